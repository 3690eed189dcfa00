// PaintPanel: mouse (and pen/touch, which GTK delivers as pointer events) to strokes; OnPaint draws the
// cached committed strokes, the stroke in progress and the digit boxes.
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
constexpr double kMinStep = 0.75;         // pixels: closer pointer samples add nothing to a stroke
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
  SetCursor(wxCursor(wxCURSOR_PENCIL));
  Bind(wxEVT_PAINT, &PaintPanel::OnPaint, this);
  Bind(wxEVT_SIZE, &PaintPanel::OnSize, this);
  Bind(wxEVT_LEFT_DOWN, &PaintPanel::OnLeftDown, this);
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
  if (drawing_) {
    drawing_ = false;
    current_ = {};
    if (HasCapture()) ReleaseMouse();
  }
  strokes_.clear();
  image_ = {};
  boxes_.clear();
  cache_valid_ = false;
  Refresh(false);
  Notify(true);
}

bool PaintPanel::Undo() {
  if (drawing_) return false;
  if (!strokes_.empty()) {
    strokes_.pop_back();
  } else if (HasImage()) {
    image_ = {};
  } else {
    return false;
  }
  boxes_.clear();
  cache_valid_ = false;
  Refresh(false);
  Notify(true);
  return true;
}

void PaintPanel::ShowImage(const GrayImage& img) {
  if (drawing_) {
    drawing_ = false;
    current_ = {};
    if (HasCapture()) ReleaseMouse();
  }
  strokes_.clear();
  boxes_.clear();
  image_ = img;
  cache_valid_ = false;
  Refresh(false);
  Notify(true);
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

double PaintPanel::Scale() const { return std::max(1, GetClientSize().y); }

void PaintPanel::RenderStroke(wxGraphicsContext& gc, const Stroke& s) const {
  if (s.pts.empty()) return;
  const double k = Scale();
  const double w = std::max(1.0, s.width * k);
  auto at = [&](size_t i) { return wxPoint2DDouble(s.pts[i].m_x * k, s.pts[i].m_y * k); };
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

void PaintPanel::RenderStrokes(wxGraphicsContext& gc, const std::vector<Stroke>& strokes) const {
  gc.SetAntialiasMode(wxANTIALIAS_DEFAULT);
  for (const Stroke& s : strokes) RenderStroke(gc, s);
}

wxRect PaintPanel::ImageRect() const {
  const wxSize sz = GetClientSize();
  if (!HasImage() || sz.x < 1 || sz.y < 1) return {};
  const double k = std::min(double(sz.x) / image_.width, double(sz.y) / image_.height);
  const int w = std::max(1, int(image_.width * k)), h = std::max(1, int(image_.height * k));
  return {(sz.x - w) / 2, (sz.y - h) / 2, w, h};
}

double PaintPanel::SnapshotScale() const { return std::min(1.0, kSnapshotHeight / Scale()); }

GrayImage PaintPanel::Snapshot(bool full_size) const {
  if (HasImage()) return image_;
  const wxSize panel = GetClientSize();
  if (panel.x < 1 || panel.y < 1) return {};
  const double k = full_size ? 1.0 : SnapshotScale();
  const wxSize sz(std::max(1, int(std::ceil(panel.x * k))), std::max(1, int(std::ceil(panel.y * k))));
  wxImage im(sz.x, sz.y, false);
  im.SetRGB(wxRect(0, 0, sz.x, sz.y), kPaper.Red(), kPaper.Green(), kPaper.Blue());
  {
    std::unique_ptr<wxGraphicsContext> gc(wxGraphicsContext::Create(im));
    if (gc) {
      gc->Scale(k, k);
      RenderStrokes(*gc, strokes_);
      if (drawing_) RenderStroke(*gc, current_);
    }
  }  // the context writes back into `im` when it is destroyed
  GrayImage g{sz.x, sz.y, std::vector<uint8_t>(size_t(sz.x) * sz.y)};
  const unsigned char* rgb = im.GetData();
  for (size_t i = 0; i < g.pixels.size(); ++i) g.pixels[i] = rgb[3 * i + 1];  // grey ink: any channel (green)
  return g;
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
      const wxRect r = ImageRect();
      wxImage im(image_.width, image_.height, false);
      unsigned char* rgb = im.GetData();
      for (size_t i = 0; i < image_.pixels.size(); ++i) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = image_.pixels[i];
      // Small images (a 28x28 MNIST digit) stay crisp; photos are smoothed.
      const bool crisp = r.width >= 3 * image_.width;
      mdc.DrawBitmap(wxBitmap(im.Scale(r.width, r.height, crisp ? wxIMAGE_QUALITY_NEAREST : wxIMAGE_QUALITY_HIGH)),
                     r.GetTopLeft());
    } else {
      std::unique_ptr<wxGraphicsContext> gc(wxGraphicsContext::Create(mdc));
      if (gc) RenderStrokes(*gc, strokes_);
    }
    cache_valid_ = true;
  }
  dc.DrawBitmap(cache_, 0, 0);
  std::unique_ptr<wxGraphicsContext> gc(wxGraphicsContext::CreateFromUnknownDC(dc));
  if (!gc) return;
  if (drawing_) RenderStroke(*gc, current_);

  if (!boxes_.empty()) {
    // Box coordinates are the snapshot's: image pixels, or panel pixels (the drawing scales with the height).
    double k = 1 / SnapshotScale(), ox = 0, oy = 0;
    if (HasImage()) {
      const wxRect r = ImageRect();
      k = double(r.width) / image_.width, ox = r.x, oy = r.y;
    }
    gc->SetPen(gc->CreatePen(wxGraphicsPenInfo(kBoxColour).Width(1.5)));
    gc->SetBrush(wxNullGraphicsBrush);
    gc->SetFont(GetFont().Bold(), kBoxColour);
    for (const Box& b : boxes_) {
      const double x = ox + b.x0 * k - 3, y = oy + b.y0 * k - 3;
      gc->DrawRectangle(x, y, (b.x1 - b.x0) * k + 6, (b.y1 - b.y0) * k + 6);
      double tw, th;
      gc->GetTextExtent(b.label, &tw, &th);
      gc->DrawText(b.label, x + 2, std::max(0.0, y - th - 1));
    }
  }
  if (IsBlank()) {
    gc->SetFont(GetFont().Scaled(1.4f), wxSystemSettings::GetColour(wxSYS_COLOUR_GRAYTEXT));
    const wxString hint = _("Draw digits here");
    double tw, th;
    gc->GetTextExtent(hint, &tw, &th);
    gc->DrawText(hint, (sz.x - tw) / 2, (sz.y - th) / 2);
  }
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

void PaintPanel::OnLeftDown(wxMouseEvent& event) {
  SetFocus();
  if (drawing_) return;
  if (HasImage()) {  // drawing on a shown image starts a new drawing
    image_ = {};
    cache_valid_ = false;
  }
  boxes_.clear();
  if (!HasCapture()) CaptureMouse();  // keep the stroke when the pointer leaves the panel
  drawing_ = true;
  const double k = Scale();
  current_ = {};
  current_.width = pen_px_ / k;
  current_.pts.push_back(wxPoint2DDouble(event.GetX() / k, event.GetY() / k));
  Refresh(false);
  Notify(false);
}

void PaintPanel::OnMotion(wxMouseEvent& event) {
  if (!drawing_) return;
  const double k = Scale();
  const wxPoint2DDouble p(event.GetX() / k, event.GetY() / k);
  if (p.GetDistance(current_.pts.back()) * k < kMinStep) return;
  current_.pts.push_back(p);
  Refresh(false);
  Notify(false);
}

void PaintPanel::OnLeftUp(wxMouseEvent& event) {
  if (!drawing_) return;
  const double k = Scale();
  const wxPoint2DDouble p(event.GetX() / k, event.GetY() / k);
  if (p.GetDistance(current_.pts.back()) * k >= kMinStep) current_.pts.push_back(p);
  EndStroke();
}

void PaintPanel::OnCaptureLost(wxMouseCaptureLostEvent&) {
  if (drawing_) EndStroke();  // another window took the pointer: keep what was drawn
}

void PaintPanel::EndStroke() {
  drawing_ = false;
  strokes_.push_back(std::move(current_));
  current_ = {};
  if (HasCapture()) ReleaseMouse();
  cache_valid_ = false;
  Refresh(false);
  Notify(true);
}

}  // namespace digits::gui
