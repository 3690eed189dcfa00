// PaintPanel: the drawing surface of digits-gui. Anti-aliased strokes (wxGraphicsContext, round caps and
// joins, smoothed through the points), kept by a Drawing in paper units so that a resized window shows the
// whole drawing, scaled; committed strokes are cached in an offscreen bitmap. Every press starts a stroke,
// double clicks included. Instead of a drawing it can show an opened image file (a separate state: the next
// stroke starts a new drawing), and it frames the digit boxes the last prediction found.
#pragma once

#include <wx/bitmap.h>
#include <wx/geometry.h>
#include <wx/panel.h>

#include <string>
#include <vector>

#include "drawing.h"
#include "image_io.h"

class wxGraphicsContext;

namespace digits::gui {

// Sent (as a wxCommandEvent that propagates to the frame) whenever the drawing changes.
// GetInt() is 1 when a change is complete (stroke ended, undo, clear, image opened), 0 while a stroke goes on.
wxDECLARE_EVENT(EVT_DRAWING_CHANGED, wxCommandEvent);

class PaintPanel : public wxPanel {
 public:
  explicit PaintPanel(wxWindow* parent);

  // The pen's width as a fraction of the canvas height (e.g. 0.05): the same look at any window size.
  void SetPenWidth(double fraction) { pen_fraction_ = fraction; }
  double GetPenWidth() const { return pen_fraction_; }
  void Clear();
  bool Undo();  // false when there is nothing to undo
  bool IsBlank() const { return drawing_.blank() && !HasImage(); }
  bool IsDrawing() const { return drawing_.drawing(); }
  size_t StrokeCount() const { return drawing_.strokes().size() + (drawing_.drawing() ? 1 : 0); }

  // Shows an image file instead of the drawing, scaled to fit, captioned with `name`; the next stroke starts
  // a new drawing.
  void ShowImage(const GrayImage& img, const wxString& name);
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
  View CanvasView() const;                    // paper units to panel pixels
  View SnapshotView(bool full_size) const;    // paper units to Snapshot() pixels
  void RenderStrokes(wxGraphicsContext& gc, const View& v, bool with_current) const;
  void RenderStroke(wxGraphicsContext& gc, const Drawing::Stroke& s, const View& v) const;
  void RenderImage(wxDC& dc) const;
  void RenderBoxes(wxGraphicsContext& gc) const;
  void RenderHint(wxGraphicsContext& gc) const;
  void Notify(bool complete);
  void StartStroke(wxPoint2DDouble px);
  void EndStroke();
  void DropImage();
  wxRect ImageRect() const;  // where the loaded image is shown

  void OnPaint(wxPaintEvent& event);
  void OnSize(wxSizeEvent& event);
  void OnLeftDown(wxMouseEvent& event);
  void OnMotion(wxMouseEvent& event);
  void OnLeftUp(wxMouseEvent& event);
  void OnCaptureLost(wxMouseCaptureLostEvent& event);

  double pen_fraction_ = 0.04;
  Drawing drawing_;
  GrayImage image_;
  wxString image_name_;
  wxBitmap cache_;  // committed strokes (or the scaled image) on white, at the panel's size
  bool cache_valid_ = false;
  std::vector<Box> boxes_;
  wxSize last_size_;
};

}  // namespace digits::gui
