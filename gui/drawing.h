// Drawing: the strokes of one drawing and the paper they lie on, in paper units, independent of the window.
// The canvas always shows the whole paper, as large as fits and centred (View), so a resized window scales the
// drawing instead of cropping it, and resizing back restores it exactly. A stroke begun on a canvas that
// shows margins around the paper first grows the paper to the whole canvas, which leaves the view unchanged.
// Pen widths are fractions of the canvas height, so strokes look the same at any window size or GDK_SCALE.
// Plain C++ (no wx): the panel converts pointer pixels through View, and the unit tests run without a display.
#pragma once

#include <cstddef>
#include <vector>

#include "image_io.h"

namespace digits::gui {

struct PointD {
  double x = 0, y = 0;
};

struct RectD {
  double x = 0, y = 0, w = 0, h = 0;
  double right() const { return x + w; }
  double bottom() const { return y + h; }
};

// Paper units to canvas pixels: pixel = offset + scale * unit.
struct View {
  double scale = 1, ox = 0, oy = 0;
  PointD to_pixels(PointD u) const { return {ox + scale * u.x, oy + scale * u.y}; }
  PointD to_units(PointD px) const { return {(px.x - ox) / scale, (px.y - oy) / scale}; }
};

class Drawing {
 public:
  struct Stroke {
    std::vector<PointD> pts;  // paper units
    double width = 0;         // paper units
  };

  // The view that shows the whole paper on a canvas of width x height pixels (both >= 1). A blank drawing has
  // no paper of its own: its paper is the canvas, one unit per canvas height.
  View fit(double width, double height) const;
  // The paper in units; for a blank drawing, the canvas of that size as fit() shows it.
  RectD paper(double width, double height) const;

  // Starts a stroke at canvas pixel `px` with a pen `pen_fraction` of the canvas height wide. A stroke still
  // going on (its release was never seen) is kept first.
  void begin(double width, double height, PointD px, double pen_fraction);
  // Adds canvas pixel `px` to the stroke going on unless it is within `min_step` pixels of the last point;
  // false when nothing was added (or no stroke goes on).
  bool extend(double width, double height, PointD px, double min_step);
  void end();  // keeps the stroke going on (if any)

  bool undo();   // removes the last kept stroke; false when there is none (or a stroke goes on)
  void clear();  // nothing left, not even the paper

  bool blank() const { return strokes_.empty() && !drawing_; }
  bool drawing() const { return drawing_; }
  const std::vector<Stroke>& strokes() const { return strokes_; }
  const Stroke& current() const { return current_; }  // meaningful while drawing()

 private:
  std::vector<Stroke> strokes_;
  Stroke current_;
  bool drawing_ = false;
  RectD paper_;  // meaningful when !blank()
};

// One digit of a drawing with several, to save as a sample: the box [x0, x1) x [y0, y1) of `img` with a margin
// of a quarter of the box's longer side on every side, filled with the paper (the image's top-left pixel), so
// that a neighbouring digit never comes along. Parts of the box outside the image are paper too.
GrayImage crop_digit(const GrayImage& img, int x0, int y0, int x1, int y1);

}  // namespace digits::gui
