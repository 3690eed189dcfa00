// ProbabilityView: ten vertical bars 0..9 with the percentage above each, sample counts under the labels.
#include "probability_view.h"

#include <wx/cursor.h>
#include <wx/dcbuffer.h>
#include <wx/intl.h>
#include <wx/settings.h>

#include <algorithm>

namespace digits::gui {

wxDEFINE_EVENT(EVT_DIGIT_CORRECTED, wxCommandEvent);

namespace {
const wxColour kBar(150, 170, 200);
const wxColour kBest(30, 110, 220);
}  // namespace

ProbabilityView::ProbabilityView(wxWindow* parent)
    : wxPanel(parent, wxID_ANY, wxDefaultPosition, wxSize(320, 170)) {
  SetBackgroundStyle(wxBG_STYLE_PAINT);
  SetMinSize(wxSize(260, 140));
  SetToolTip(_("Misread? Click the right digit (or press its key) to save the drawing as your sample of it.\n"
               "Under each digit: how many samples of it you have."));
  SetCursor(wxCursor(wxCURSOR_HAND));
  Bind(wxEVT_PAINT, &ProbabilityView::OnPaint, this);
  Bind(wxEVT_LEFT_DOWN, &ProbabilityView::OnLeftDown, this);
}

void ProbabilityView::SetCounts(const std::array<int, 10>& counts) {
  counts_ = counts;
  Refresh(false);
}

// A click in a digit's column (bar, label or count) says the drawing is that digit.
void ProbabilityView::OnLeftDown(wxMouseEvent& event) {
  const int w = GetClientSize().x;
  if (w <= 0) return;
  const int digit = std::clamp(event.GetX() * 10 / w, 0, 9);
  wxCommandEvent ev(EVT_DIGIT_CORRECTED, GetId());
  ev.SetEventObject(this);
  ev.SetInt(digit);
  ProcessWindowEvent(ev);
}

void ProbabilityView::DrawCounts(wxDC& dc, double slot, int y) const {
  dc.SetTextForeground(wxSystemSettings::GetColour(wxSYS_COLOUR_GRAYTEXT));
  for (int k = 0; k < 10; ++k) {
    const wxString n = wxString::Format("%d", counts_[size_t(k)]);
    const wxSize te = dc.GetTextExtent(n);
    dc.DrawText(n, int(k * slot + (slot - te.x) / 2), y);
  }
}

void ProbabilityView::SetProbabilities(const std::array<float, 10>& probs) {
  probs_ = probs;
  has_ = true;
  Refresh(false);
}

void ProbabilityView::Clear() {
  has_ = false;
  Refresh(false);
}

void ProbabilityView::OnPaint(wxPaintEvent&) {
  wxAutoBufferedPaintDC dc(this);
  const wxColour bg = wxSystemSettings::GetColour(wxSYS_COLOUR_WINDOW);
  const wxColour fg = wxSystemSettings::GetColour(wxSYS_COLOUR_WINDOWTEXT);
  dc.SetBackground(wxBrush(bg));
  dc.Clear();
  const wxSize sz = GetClientSize();
  const wxFont small = GetFont().Scaled(0.85f);
  dc.SetFont(small);
  const int text_h = dc.GetCharHeight();
  // Layout: a percentage row on top, bars, the class labels 0..9, then the sample counts along the bottom.
  const int top = text_h + 4, bottom = sz.y - 2 * text_h - 6, bar_h = std::max(1, bottom - top);
  const double slot = sz.x / 10.0;
  const int best = has_ ? int(std::max_element(probs_.begin(), probs_.end()) - probs_.begin()) : -1;
  dc.SetPen(wxPen(fg.ChangeLightness(160)));
  dc.DrawLine(0, bottom, sz.x, bottom);
  for (int k = 0; k < 10; ++k) {
    const int x0 = int(k * slot + slot * 0.15), w = std::max(1, int(slot * 0.7));
    if (has_) {
      const float p = std::clamp(probs_[size_t(k)], 0.f, 1.f);
      const int h = int(p * bar_h + 0.5);
      dc.SetPen(*wxTRANSPARENT_PEN);
      dc.SetBrush(wxBrush(k == best ? kBest : kBar));
      if (h > 0) dc.DrawRectangle(x0, bottom - h, w, h);
      if (p >= 0.005f) {
        const wxString pct = p >= 0.995f ? wxString("100") : wxString::Format("%.0f", 100 * p);
        dc.SetTextForeground(k == best ? kBest : fg);
        const wxSize te = dc.GetTextExtent(pct);
        dc.DrawText(pct, x0 + (w - te.x) / 2, std::max(0, bottom - h - text_h - 1));
      }
    }
    dc.SetFont(k == best ? small.Bold() : small);
    dc.SetTextForeground(k == best ? kBest : fg);
    const wxString label = wxString::Format("%d", k);
    const wxSize te = dc.GetTextExtent(label);
    dc.DrawText(label, x0 + (w - te.x) / 2, bottom + 2);
    dc.SetFont(small);
  }
  DrawCounts(dc, slot, bottom + text_h + 4);
}

}  // namespace digits::gui
