// PaintPanel: the drawing surface of digits-gui. Anti-aliased strokes (wxGraphicsContext, round caps and
// joins, smoothed through the points), kept as a stroke list in panel-height units so that a resized
// window shows the same drawing; committed strokes are cached in an offscreen bitmap. It can also show a
// loaded image file instead of a drawing, and frames the digit boxes the last prediction found.
#pragma once

#include <wx/bitmap.h>
#include <wx/geometry.h>
#include <wx/panel.h>

#include <string>
#include <vector>

#include "image_io.h"

class wxGraphicsContext;

namespace digits::gui {

// Sent (as a wxCommandEvent that propagates to the frame) whenever the drawing changes.
// GetInt() is 1 when a change is complete (stroke ended, undo, clear, image opened), 0 while a stroke goes on.
wxDECLARE_EVENT(EVT_DRAWING_CHANGED, wxCommandEvent);

class PaintPanel : public wxPanel {
 public:
  explicit PaintPanel(wxWindow* parent);

  void SetPenWidth(int pixels) { pen_px_ = pixels; }
  int GetPenWidth() const { return pen_px_; }
  void Clear();
  bool Undo();  // false when there is nothing to undo
  bool IsBlank() const { return strokes_.empty() && !drawing_ && !HasImage(); }
  bool IsDrawing() const { return drawing_; }

  // Shows an image file instead of the drawing, scaled to fit; the next stroke starts a new drawing.
  void ShowImage(const GrayImage& img);
  bool HasImage() const { return image_.width > 0; }

  // What the network reads: the loaded image, or the drawing rendered black on white. For predictions the
  // drawing is rendered at most kSnapshotHeight pixels tall (a digit needs 20; rendering and copying a full
  // canvas costs the UI thread milliseconds); `full_size` renders it at the panel's size (for saving).
  GrayImage Snapshot(bool full_size = false) const;

  // Boxes (in Snapshot() coordinates) with a label each, drawn as thin frames; empty to remove.
  struct Box {
    int x0, y0, x1, y1;
    wxString label;
  };
  void SetBoxes(std::vector<Box> boxes);

 private:
  struct Stroke {
    std::vector<wxPoint2DDouble> pts;  // panel-height units
    double width = 0;                  // panel-height units
  };

  double Scale() const;          // pixels per unit: the panel's height
  double SnapshotScale() const;  // snapshot pixels per panel pixel, for predictions
  void RenderStrokes(wxGraphicsContext& gc, const std::vector<Stroke>& strokes) const;
  void RenderStroke(wxGraphicsContext& gc, const Stroke& s) const;
  void Notify(bool complete);
  void EndStroke();
  wxRect ImageRect() const;  // where the loaded image is shown

  void OnPaint(wxPaintEvent& event);
  void OnSize(wxSizeEvent& event);
  void OnLeftDown(wxMouseEvent& event);
  void OnMotion(wxMouseEvent& event);
  void OnLeftUp(wxMouseEvent& event);
  void OnCaptureLost(wxMouseCaptureLostEvent& event);

  int pen_px_ = 20;
  std::vector<Stroke> strokes_;
  Stroke current_;
  bool drawing_ = false;
  GrayImage image_;
  wxBitmap cache_;  // committed strokes (or the scaled image) on white, at the panel's size
  bool cache_valid_ = false;
  std::vector<Box> boxes_;
  wxSize last_size_;
};

}  // namespace digits::gui
