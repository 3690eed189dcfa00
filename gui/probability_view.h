// ProbabilityView: a bar chart of the ten class probabilities of one digit (the selected one), painted by hand
// (wx drawing-sample style: OnPaint -> wxAutoBufferedPaintDC). The most likely class is highlighted. Under
// the class labels, how many personal samples each digit has; clicking a digit's column says "this is that
// digit" (EVT_DIGIT_CORRECTED, GetInt() = the digit).
#pragma once

#include <wx/panel.h>

#include <array>

namespace digits::gui {

wxDECLARE_EVENT(EVT_DIGIT_CORRECTED, wxCommandEvent);

class ProbabilityView : public wxPanel {
 public:
  explicit ProbabilityView(wxWindow* parent);
  void SetProbabilities(const std::array<float, 10>& probs);
  void Clear();  // no bars: an empty canvas or no model
  void SetCounts(const std::array<int, 10>& counts);  // personal samples per digit

 private:
  void OnPaint(wxPaintEvent& event);
  void OnLeftDown(wxMouseEvent& event);
  void DrawCounts(wxDC& dc, double slot, int y) const;

  std::array<float, 10> probs_{};
  bool has_ = false;
  std::array<int, 10> counts_{};
};

}  // namespace digits::gui
