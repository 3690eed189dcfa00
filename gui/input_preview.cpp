// InputPreview: a row of nearest-neighbour enlarged 28x28 inputs with captions; the selected one is framed.
#include "input_preview.h"

#include <wx/dcbuffer.h>
#include <wx/image.h>
#include <wx/settings.h>

#include <algorithm>
#include <cmath>

namespace digits::gui {

wxDEFINE_EVENT(EVT_DIGIT_SELECTED, wxCommandEvent);

namespace {
constexpr int kGap = 8;
constexpr int kMaxCell = 112;  // 4x
const wxColour kSelected(30, 110, 220);
}  // namespace

InputPreview::InputPreview(wxWindow* parent) : wxPanel(parent, wxID_ANY, wxDefaultPosition, wxSize(320, 150)) {
  SetBackgroundStyle(wxBG_STYLE_PAINT);
  SetMinSize(wxSize(260, 90));
  Bind(wxEVT_PAINT, &InputPreview::OnPaint, this);
  Bind(wxEVT_LEFT_DOWN, &InputPreview::OnLeftDown, this);
}

void InputPreview::SetDigits(const std::vector<DigitPrediction>& digits) {
  inputs_.clear();
  captions_.clear();
  for (const DigitPrediction& d : digits) {
    wxImage im(28, 28, false);
    unsigned char* rgb = im.GetData();
    for (size_t i = 0; i < d.input.pixels.size(); ++i) {
      const auto v = static_cast<unsigned char>(std::lround(std::clamp(d.input.pixels[i], 0.f, 1.f) * 255));
      rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = v;
    }
    inputs_.push_back(im);
    captions_.push_back(wxString::Format("%d  %.0f%%", d.digit, 100.0 * d.confidence));
  }
  if (selected_ >= int(inputs_.size())) selected_ = 0;
  Refresh(false);
}

void InputPreview::Clear() {
  inputs_.clear();
  captions_.clear();
  selected_ = 0;
  Refresh(false);
}

wxRect InputPreview::CellRect(size_t i) const {
  const wxSize sz = GetClientSize();
  const int n = int(inputs_.size());
  const int caption = GetCharHeight() + 4;
  // As large as fits (a multiple of 28 keeps the pixels square), at most kMaxCell.
  int cell = std::min({kMaxCell, (sz.x - kGap * (n + 1)) / std::max(1, n), sz.y - caption - 2 * kGap});
  if (cell >= 28) cell -= cell % 28;
  cell = std::max(cell, 14);
  const int total = n * cell + (n - 1) * kGap;
  const int x0 = std::max(kGap, (sz.x - total) / 2);
  return {x0 + int(i) * (cell + kGap), kGap, cell, cell};
}

void InputPreview::OnPaint(wxPaintEvent&) {
  wxAutoBufferedPaintDC dc(this);
  dc.SetBackground(wxBrush(wxSystemSettings::GetColour(wxSYS_COLOUR_WINDOW)));
  dc.Clear();
  const wxColour fg = wxSystemSettings::GetColour(wxSYS_COLOUR_WINDOWTEXT);
  if (inputs_.empty()) {
    dc.SetTextForeground(wxSystemSettings::GetColour(wxSYS_COLOUR_GRAYTEXT));
    const wxString msg = _("(the network's 28x28 inputs appear here)");
    const wxSize te = dc.GetTextExtent(msg);
    dc.DrawText(msg, (GetClientSize().x - te.x) / 2, (GetClientSize().y - te.y) / 2);
    return;
  }
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const wxRect r = CellRect(i);
    dc.DrawBitmap(wxBitmap(inputs_[i].Scale(r.width, r.height, wxIMAGE_QUALITY_NEAREST)), r.GetTopLeft());
    const bool sel = int(i) == selected_ && inputs_.size() > 1;
    dc.SetPen(wxPen(sel ? kSelected : fg.ChangeLightness(170), sel ? 3 : 1));
    dc.SetBrush(*wxTRANSPARENT_BRUSH);
    dc.DrawRectangle(wxRect(r).Inflate(sel ? 2 : 1));
    dc.SetTextForeground(sel ? kSelected : fg);
    const wxSize te = dc.GetTextExtent(captions_[i]);
    dc.DrawText(captions_[i], r.x + (r.width - te.x) / 2, r.GetBottom() + 5);
  }
}

void InputPreview::OnLeftDown(wxMouseEvent& event) {
  for (size_t i = 0; i < inputs_.size(); ++i) {
    if (!CellRect(i).Contains(event.GetPosition())) continue;
    selected_ = int(i);
    Refresh(false);
    wxCommandEvent ev(EVT_DIGIT_SELECTED, GetId());
    ev.SetEventObject(this);
    ev.SetInt(selected_);
    ProcessWindowEvent(ev);
    return;
  }
}

}  // namespace digits::gui
