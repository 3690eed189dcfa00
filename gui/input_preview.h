// InputPreview: the 28x28 images the network actually received, one per digit, scaled up with
// nearest-neighbour so the pixels stay visible, each captioned with its answer and confidence. Clicking a
// preview selects that digit (EVT_DIGIT_SELECTED, GetInt() = index) so the bars show its probabilities.
#pragma once

#include <wx/bitmap.h>
#include <wx/panel.h>

#include <vector>

#include "predictor.h"

namespace digits::gui {

wxDECLARE_EVENT(EVT_DIGIT_SELECTED, wxCommandEvent);

class InputPreview : public wxPanel {
 public:
  explicit InputPreview(wxWindow* parent);
  void SetDigits(const std::vector<DigitPrediction>& digits);  // keeps the selection when it still exists
  void Clear();
  int GetSelection() const { return selected_; }

 private:
  wxRect CellRect(size_t i) const;
  void OnPaint(wxPaintEvent& event);
  void OnLeftDown(wxMouseEvent& event);

  std::vector<wxImage> inputs_;  // 28x28 grey
  std::vector<wxString> captions_;
  int selected_ = 0;
};

}  // namespace digits::gui
