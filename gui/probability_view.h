// ProbabilityView: a bar chart of the ten class probabilities of one digit (the selected one), painted by hand
// (wx drawing-sample style: OnPaint -> wxAutoBufferedPaintDC). The most likely class is highlighted.
#pragma once

#include <wx/panel.h>

#include <array>

namespace digits::gui {

class ProbabilityView : public wxPanel {
 public:
  explicit ProbabilityView(wxWindow* parent);
  void SetProbabilities(const std::array<float, 10>& probs);
  void Clear();  // no bars: an empty canvas or no model

 private:
  void OnPaint(wxPaintEvent& event);

  std::array<float, 10> probs_{};
  bool has_ = false;
};

}  // namespace digits::gui
