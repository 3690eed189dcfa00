// PaintPanel: mouse (and pen/touch, which GTK delivers as pointer events) to strokes; OnPaint draws the
// cached committed strokes (or the opened image), the stroke in progress and the digit boxes.
#include "paint_panel.h"

#include <wx/dcbuffer.h>
#include <wx/dcmemory.h>
#include <wx/graphics.h>
#include <wx/image.h>
#include <wx/settings.h>

#ifdef __WXGTK3__
#include <dlfcn.h>
#endif

#include <algorithm>
#include <cmath>
#include <memory>

namespace digits::gui {

wxDEFINE_EVENT(EVT_DRAWING_CHANGED, wxCommandEvent);

namespace {
const wxColour kInk(0, 0, 0);
const wxColour kPaper(255, 255, 255);
const wxColour kBoxColour(40, 120, 220);
constexpr double kMinStep = 0.75;        // pixels: closer pointer samples add nothing to a stroke
constexpr double kSnapshotHeight = 320;  // pixels: the drawing as predictions see it (20 px per digit needed)
}  // namespace

namespace {
// GTK 3 merges pointer motion events that arrive within one frame, which turns the corners of a fast stroke
// into straight chords. Drawing programs switch that off for their canvas. The GTK headers are not part of
// the wx build, so the two functions are looked up at run time; without them the panel works as before.
void keep_every_motion_event(wxWindow* w) {
#ifdef __WXGTK3__
  using GetWindow = void* (*)(void*);
  using SetCompression = void (*)(void*, int);
  const auto get_window = reinterpret_cast<GetWindow>(dlsym(RTLD_DEFAULT, "gtk_widget_get_window"));
  const auto set_compression = reinterpret_cast<SetCompression>(dlsym(RTLD_DEFAULT, "gdk_window_set_event_compression"));
  if (get_window && set_compression && w->GetHandle())
    if (void* gdk_window = get_window(w->GetHandle())) set_compression(gdk_window, 0);
#else
  (void)w;
#endif
}
}  // namespace

PaintPanel::PaintPanel(wxWindow* parent)
    : wxPanel(parent, wxID_ANY, wxDefaultPosition, wxSize(560, 420), wxBORDER_SIMPLE) {
  SetBackgroundStyle(wxBG_STYLE_PAINT);  // OnPaint covers everything: no flicker from erasing
  SetMinSize(wxSize(160, 120));          // a small window keeps the result column: the drawing scales down
  SetCursor(wxCursor(wxCURSOR_PENCIL));
  Bind(wxEVT_PAINT, &PaintPanel::OnPaint, this);
  Bind(wxEVT_SIZE, &PaintPanel::OnSize, this);
  Bind(wxEVT_LEFT_DOWN, &PaintPanel::OnLeftDown, this);
  // GTK reports the second of two quick presses close together as a double click *instead of* a press:
  // without this, the second stroke of a "4" or "5" written quickly would be lost.
  Bind(wxEVT_LEFT_DCLICK, &PaintPanel::OnLeftDown, this);
  Bind(wxEVT_MOTION, &PaintPanel::OnMotion, this);
  Bind(wxEVT_LEFT_UP, &PaintPanel::OnLeftUp, this);
  Bind(wxEVT_MOUSE_CAPTURE_LOST, &PaintPanel::OnCaptureLost, this);
  // The GDK window exists once the panel is realised (shown).
  Bind(wxEVT_SHOW, [this](wxShowEvent& e) {
    keep_every_motion_event(this);
    e.Skip();
  });
  CallAfter([this] { keep_every_motion_event(this); });
}

// ---------------------------------------------------------------------------------------------------------
// editing

void PaintPanel::Clear() {
  if (HasCapture()) ReleaseMouse();
  drawing_.clear();
  DropImage();
  boxes_.clear();
  Refresh(false);
  Notify(true);
}

bool PaintPanel::Undo() {
  if (drawing_.drawing()) return false;
  if (HasImage()) {
    DropImage();
  } else if (!drawing_.undo()) {
    return false;
  }
  boxes_.clear();
  cache_valid_ = false;
  Refresh(false);
  Notify(true);
  return true;
}

void PaintPanel::ShowImage(const GrayImage& img, const wxString& name) {
  if (HasCapture()) ReleaseMouse();
  drawing_.clear();
  boxes_.clear();
  image_ = img;
  image_name_ = name;
  cache_valid_ = false;
  Refresh(false);
  Notify(true);
}

void PaintPanel::DropImage() {
  image_ = {};
  image_name_.clear();
  cache_valid_ = false;
}

void PaintPanel::SetBoxes(std::vector<Box> boxes) {
  boxes_ = std::move(boxes);
  Refresh(false);
}

void PaintPanel::Notify(bool complete) {
  wxCommandEvent ev(EVT_DRAWING_CHANGED, GetId());
  ev.SetEventObject(this);
  ev.SetInt(complete ? 1 : 0);
  ProcessWindowEvent(ev);  // command events travel up to the frame
}

// ---------------------------------------------------------------------------------------------------------
// rendering

View PaintPanel::CanvasView() const {
  const wxSize sz = GetClientSize();
  return drawing_.fit(sz.x, sz.y);
}

// Predictions see the paper at most kSnapshotHeight pixels tall (a digit needs 20; rendering and copying a
// full canvas costs the UI thread milliseconds); saving renders it at the canvas's scale.
View PaintPanel::SnapshotView(bool full_size) const {
  const wxSize sz = GetClientSize();
  const RectD paper = drawing_.paper(sz.x, sz.y);
  const double canvas = CanvasView().scale;
  const double k = full_size ? canvas : std::min(canvas, kSnapshotHeight / paper.h);
  return {k, -k * paper.x, -k * paper.y};
}

void PaintPanel::RenderStroke(wxGraphicsContext& gc, const Drawing::Stroke& s, const View& v) const {
  if (s.pts.empty()) return;
  const double w = std::max(1.0, s.width * v.scale);
  auto at = [&](size_t i) {
    const PointD p = v.to_pixels(s.pts[i]);
    return wxPoint2DDouble(p.x, p.y);
  };
  if (s.pts.size() == 1) {  // a click: a dot as wide as the pen
    const wxPoint2DDouble p = at(0);
    gc.SetPen(wxNullGraphicsPen);
    gc.SetBrush(gc.CreateBrush(wxBrush(kInk)));
    gc.DrawEllipse(p.m_x - w / 2, p.m_y - w / 2, w, w);
    return;
  }
  gc.SetPen(gc.CreatePen(wxGraphicsPenInfo(kInk).Width(w).Cap(wxCAP_ROUND).Join(wxJOIN_ROUND)));
  gc.SetBrush(wxNullGraphicsBrush);
  wxGraphicsPath path = gc.CreatePath();
  path.MoveToPoint(at(0));
  // Quadratic curves through the midpoints of successive samples: smooth, and no gaps however fast the
  // pointer moved (consecutive samples are always joined).
  for (size_t i = 1; i + 1 < s.pts.size(); ++i) {
    const wxPoint2DDouble c = at(i), n = at(i + 1);
    path.AddQuadCurveToPoint(c.m_x, c.m_y, (c.m_x + n.m_x) / 2, (c.m_y + n.m_y) / 2);
  }
  path.AddLineToPoint(at(s.pts.size() - 1));
  gc.StrokePath(path);
}

void PaintPanel::RenderStrokes(wxGraphicsContext& gc, const View& v, bool with_current) const {
  gc.SetAntialiasMode(wxANTIALIAS_DEFAULT);
  for (const Drawing::Stroke& s : drawing_.strokes()) RenderStroke(gc, s, v);
  if (with_current && drawing_.drawing()) RenderStroke(gc, drawing_.current(), v);
}

wxRect PaintPanel::ImageRect() const {
  const wxSize sz = GetClientSize();
  if (!HasImage() || sz.x < 1 || sz.y < 1) return {};
  const double k = std::min(double(sz.x) / image_.width, double(sz.y) / image_.height);
  const int w = std::max(1, int(image_.width * k)), h = std::max(1, int(image_.height * k));
  return {(sz.x - w) / 2, (sz.y - h) / 2, w, h};
}

GrayImage PaintPanel::Snapshot(bool full_size) const {
  if (HasImage()) return image_;
  const wxSize panel = GetClientSize();
  if (panel.x < 1 || panel.y < 1) return {};
  const RectD paper = drawing_.paper(panel.x, panel.y);
  const View v = SnapshotView(full_size);
  const wxSize sz(std::max(1, int(std::ceil(paper.w * v.scale))), std::max(1, int(std::ceil(paper.h * v.scale))));
  wxImage im(sz.x, sz.y, false);
  im.SetRGB(wxRect(0, 0, sz.x, sz.y), kPaper.Red(), kPaper.Green(), kPaper.Blue());
  {
    std::unique_ptr<wxGraphicsContext> gc(wxGraphicsContext::Create(im));
    if (gc) RenderStrokes(*gc, v, /*with_current=*/true);
  }  // the context writes back into `im` when it is destroyed
  GrayImage g{sz.x, sz.y, std::vector<uint8_t>(size_t(sz.x) * sz.y)};
  const unsigned char* rgb = im.GetData();
  for (size_t i = 0; i < g.pixels.size(); ++i) g.pixels[i] = rgb[3 * i + 1];  // grey ink: any channel (green)
  return g;
}

void PaintPanel::RenderImage(wxDC& dc) const {
  const wxRect r = ImageRect();
  wxImage im(image_.width, image_.height, false);
  unsigned char* rgb = im.GetData();
  for (size_t i = 0; i < image_.pixels.size(); ++i) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = image_.pixels[i];
  // Small images (a 28x28 MNIST digit) stay crisp; photos are smoothed.
  const bool crisp = r.width >= 3 * image_.width;
  dc.DrawBitmap(wxBitmap(im.Scale(r.width, r.height, crisp ? wxIMAGE_QUALITY_NEAREST : wxIMAGE_QUALITY_HIGH)),
                r.GetTopLeft());
}

// Box coordinates are the snapshot's: image pixels, or the paper as SnapshotView() renders it.
void PaintPanel::RenderBoxes(wxGraphicsContext& gc) const {
  double k = 1, ox = 0, oy = 0;  // snapshot pixels to panel pixels
  if (HasImage()) {
    const wxRect r = ImageRect();
    k = double(r.width) / image_.width, ox = r.x, oy = r.y;
  } else {
    const View canvas = CanvasView(), snap = SnapshotView(false);
    k = canvas.scale / snap.scale, ox = canvas.ox - snap.ox * k, oy = canvas.oy - snap.oy * k;
  }
  gc.SetPen(gc.CreatePen(wxGraphicsPenInfo(kBoxColour).Width(1.5)));
  gc.SetBrush(wxNullGraphicsBrush);
  gc.SetFont(GetFont().Bold(), kBoxColour);
  for (const Box& b : boxes_) {
    const double x = ox + b.x0 * k - 3, y = oy + b.y0 * k - 3;
    gc.DrawRectangle(x, y, (b.x1 - b.x0) * k + 6, (b.y1 - b.y0) * k + 6);
    double tw, th;
    gc.GetTextExtent(b.label, &tw, &th);
    gc.DrawText(b.label, x + 2, std::max(0.0, y - th - 1));
  }
}

// The empty canvas invites drawing; an opened image names its file and says how to get back to drawing.
void PaintPanel::RenderHint(wxGraphicsContext& gc) const {
  const wxSize sz = GetClientSize();
  double tw, th;
  if (HasImage()) {
    gc.SetFont(GetFont(), wxSystemSettings::GetColour(wxSYS_COLOUR_GRAYTEXT));
    const wxString caption = wxString::Format(_("%s (draw to start a new drawing)"), image_name_);
    gc.GetTextExtent(caption, &tw, &th);
    gc.DrawText(caption, 6, sz.y - th - 4);
  } else if (IsBlank()) {
    gc.SetFont(GetFont().Scaled(1.4f), wxSystemSettings::GetColour(wxSYS_COLOUR_GRAYTEXT));
    const wxString hint = _("Draw digits here");
    gc.GetTextExtent(hint, &tw, &th);
    gc.DrawText(hint, (sz.x - tw) / 2, (sz.y - th) / 2);
  }
}

void PaintPanel::OnPaint(wxPaintEvent&) {
  wxAutoBufferedPaintDC dc(this);
  const wxSize sz = GetClientSize();
  if (sz.x < 1 || sz.y < 1) return;
  if (!cache_valid_ || !cache_.IsOk() || cache_.GetSize() != sz) {
    cache_.Create(sz.x, sz.y, 24);
    wxMemoryDC mdc(cache_);
    mdc.SetBackground(wxBrush(kPaper));
    mdc.Clear();
    if (HasImage()) {
      RenderImage(mdc);
    } else {
      std::unique_ptr<wxGraphicsContext> gc(wxGraphicsContext::Create(mdc));
      if (gc) RenderStrokes(*gc, CanvasView(), /*with_current=*/false);
    }
    cache_valid_ = true;
  }
  dc.DrawBitmap(cache_, 0, 0);
  std::unique_ptr<wxGraphicsContext> gc(wxGraphicsContext::CreateFromUnknownDC(dc));
  if (!gc) return;
  if (drawing_.drawing()) RenderStroke(*gc, drawing_.current(), CanvasView());
  if (!boxes_.empty()) RenderBoxes(*gc);
  RenderHint(*gc);
}

void PaintPanel::OnSize(wxSizeEvent& event) {
  event.Skip();
  const wxSize sz = GetClientSize();
  if (sz == last_size_) return;  // layouts resend the same size
  last_size_ = sz;
  cache_valid_ = false;
  Refresh(false);
  // The snapshot changes size (and the digit boxes with it): ask for a new answer, paced like a stroke.
  if (!IsBlank()) Notify(false);
}

// ---------------------------------------------------------------------------------------------------------
// pointer

// Left press and double click alike. A stroke still going on (its release never came) is kept, except when
// this is the same press reported twice (a press, then its double click, with no motion between).
void PaintPanel::OnLeftDown(wxMouseEvent& event) {
  SetFocus();
  const wxPoint2DDouble px(event.GetX(), event.GetY());
  if (drawing_.drawing() && drawing_.current().pts.size() == 1) {
    const PointD p = CanvasView().to_pixels(drawing_.current().pts[0]);
    if (px.GetDistance(wxPoint2DDouble(p.x, p.y)) < kMinStep) return;
  }
  StartStroke(px);
}

void PaintPanel::StartStroke(wxPoint2DDouble px) {
  if (HasImage()) DropImage();  // drawing on a shown image starts a new drawing
  if (drawing_.drawing()) cache_valid_ = false;  // begin() keeps the unfinished stroke
  boxes_.clear();
  if (!HasCapture()) CaptureMouse();  // keep the stroke when the pointer leaves the panel
  const wxSize sz = GetClientSize();
  drawing_.begin(sz.x, sz.y, {px.m_x, px.m_y}, pen_fraction_);
  Refresh(false);
  Notify(false);
}

void PaintPanel::OnMotion(wxMouseEvent& event) {
  const wxSize sz = GetClientSize();
  if (!drawing_.extend(sz.x, sz.y, {double(event.GetX()), double(event.GetY())}, kMinStep)) return;
  Refresh(false);
  Notify(false);
}

void PaintPanel::OnLeftUp(wxMouseEvent& event) {
  if (!drawing_.drawing()) return;
  const wxSize sz = GetClientSize();
  drawing_.extend(sz.x, sz.y, {double(event.GetX()), double(event.GetY())}, kMinStep);
  EndStroke();
}

void PaintPanel::OnCaptureLost(wxMouseCaptureLostEvent&) {
  if (drawing_.drawing()) EndStroke();  // another window took the pointer: keep what was drawn
}

void PaintPanel::EndStroke() {
  drawing_.end();
  if (HasCapture()) ReleaseMouse();
  cache_valid_ = false;
  Refresh(false);
  Notify(true);
}

}  // namespace digits::gui
