// MainFrame: the digits-gui window. Paint panel and its controls on the left; on the right the digits read
// (large), each digit's confidence, the ten probability bars of the selected digit and the 28x28 inputs the
// network received. Menus for files, model and device; the status bar names the backend and the time.
// Inference runs on a PredictionWorker; every handler reports errors in the window instead of throwing.
// Teaching it a handwriting: a misread drawing is corrected (a click under the bars or a digit key) into the
// personal sample store, and "Learn my handwriting" fine-tunes on a FinetuneWorker into the personal model.
#pragma once

#include <wx/frame.h>
#include <wx/timer.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "backend.h"
#include "finetune_worker.h"
#include "prediction_worker.h"
#include "sample_store.h"

class wxButton;
class wxCheckBox;
class wxGauge;
class wxSizer;
class wxSlider;
class wxStaticText;

namespace digits::gui {

class InputPreview;
class PaintPanel;
class ProbabilityView;

struct GuiOptions {
  std::string model;  // empty: the bundled default
  DevicePref device = DevicePref::Auto;
  // CPU threads for inference. One by default: the GUI classifies a handful of digits at a time, where a
  // second thread gains little and, on a busy machine, OpenMP barriers can cost tens of milliseconds.
  int threads = 1;
  bool log_predictions = false;  // one JSON line per shown prediction on stdout
  std::string image;             // an image file to open at start; empty: none
  std::string samples;           // the personal sample store; empty: default_samples_dir()
  std::string data;              // MNIST for the replay of Learn (--data); empty: the usual search
};

// What a prediction was asked for: the drawing (with this many strokes) or an opened image.
struct PredictionSource {
  bool image = false;
  size_t strokes = 0;
};

// One line of --log-predictions output (boxes are in the snapshot's or the image's pixels):
// {"source":"drawing","strokes":1,"digits":"7","predictions":[{"digit":7,"confidence":0.99,"probs":[...10],
//  "box":[x0,y0,x1,y1]}],"empty":false,"ms":1.2}
std::string prediction_json(const Prediction& p, const PredictionSource& source);

class MainFrame : public wxFrame {
 public:
  explicit MainFrame(const GuiOptions& opt);
  ~MainFrame() override;

  // Shows an error in the window (result area and status bar); never throws.
  void ReportError(const wxString& what);
  // Reads an image file and shows it and its digits instead of the drawing; an unreadable file gets a
  // message box and leaves the window as it was.
  void OpenImage(const wxString& path);

 private:
  void BuildMenus();
  void BuildLayout();
  wxSizer* BuildControls(wxWindow* root);
  void LoadModel();
  void RequestPrediction();
  void ShowPrediction(const Prediction& p);
  void ShowSelectedBars();
  void ShowMessage(const wxString& text, bool error);
  void UpdateStatus();
  void MaybeAnnounceReady();
  void Log(const std::string& line);  // a "digits-gui: ..." line on stderr with --log-predictions
  wxString ModelRole(const std::string& path) const;  // "your personal model" / "the bundled model" / 
  template <class F>
  void Safely(const char* what, F&& f);

  // worker results, on the UI thread
  void OnModelLoaded(const ModelInfo& info);
  void OnPredicted(const PredictionResult& r);
  void OnLearnProgress(const FinetuneProgress& p);
  void OnLearned(const LearnResult& r);

  // personal samples and the personal model
  void OpenStore();
  void ChooseStartModel();
  void ShowCounts();
  void Correct(int digit);
  GrayImage SampleImage();  // the drawing, or the selected digit's part of a drawing with several
  void StartLearning();
  void UseModel(const std::string& path);

  // events
  void OnDrawingChanged(wxCommandEvent& event);
  void OnLiveTimer(wxTimerEvent& event);
  void OnDigitSelected(wxCommandEvent& event);
  void OnOpenImage(wxCommandEvent& event);
  void OnSaveDrawing(wxCommandEvent& event);
  void OnChooseModel(wxCommandEvent& event);
  void OnDevice(wxCommandEvent& event);
  void OnClear(wxCommandEvent& event);
  void OnUndo(wxCommandEvent& event);
  void OnMultiDigit(wxCommandEvent& event);
  void OnPenWidth(wxCommandEvent& event);
  void OnAbout(wxCommandEvent& event);
  void OnQuit(wxCommandEvent& event);
  void OnClose(wxCloseEvent& event);
  void OnCharHook(wxKeyEvent& event);
  void OnDigitCorrected(wxCommandEvent& event);
  void OnUndoCorrection(wxCommandEvent& event);
  void OnLearn(wxCommandEvent& event);
  void OnUseBundled(wxCommandEvent& event);
  void OnUsePersonal(wxCommandEvent& event);

  GuiOptions opt_;
  PaintPanel* paint_ = nullptr;
  ProbabilityView* bars_ = nullptr;
  InputPreview* preview_ = nullptr;
  wxStaticText* answer_ = nullptr;
  wxStaticText* details_ = nullptr;
  wxStaticText* bars_title_ = nullptr;
  wxStaticText* message_ = nullptr;
  wxSlider* pen_ = nullptr;
  wxCheckBox* multi_ = nullptr;
  wxButton* learn_ = nullptr;
  wxGauge* gauge_ = nullptr;
  wxStaticText* counts_title_ = nullptr;
  wxTimer live_timer_;

  std::unique_ptr<PredictionWorker> worker_;
  uint64_t next_seq_ = 1;   // the next request's number
  uint64_t shown_seq_ = 0;  // the newest result shown: older ones arriving late are dropped
  std::map<uint64_t, PredictionSource> requested_;  // requests not answered yet, for the log
  bool model_ok_ = false;
  bool loading_ = false;
  std::string backend_name_, model_text_;
  wxString warning_;              // stays in the message area while it holds (e.g. CUDA asked for, CPU used)
  bool prediction_error_ = false;  // the message area shows a prediction error that a success clears
  Prediction last_;
  bool canvas_shown_ = false, announced_ = false;

  std::unique_ptr<SampleStore> store_;  // null when there is no data folder (no HOME): corrections say why
  wxString store_error_;
  int corrections_ = 0;                 // this session's samples not undone (what Undo correction can remove)
  uint64_t saved_seq_ = 0;              // the prediction whose drawing was saved last, and as which digit:
  int saved_digit_ = -1;                //   saying another digit for the same drawing relabels it
  std::string personal_path_;           // the personal model Learn writes (empty: no data folder)
  std::string bundled_path_;            // the bundled model (empty: not found)
  std::string base_model_;              // what Learn fine-tunes: the last model loaded that is not the personal one
  std::string current_model_;           // the model loaded now
  std::unique_ptr<FinetuneWorker> learner_;  // while Learn runs
  wxString load_note_;                  // shown once the model being loaded is in (what Learn did)
};

}  // namespace digits::gui
