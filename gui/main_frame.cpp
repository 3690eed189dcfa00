// MainFrame: layout, menus, the live-prediction timer, and the hand-over between the UI thread and the
// PredictionWorker (results come back through CallAfter; a result older than the one shown is dropped),
// corrections into the personal sample store and Learn on a FinetuneWorker.
#include "main_frame.h"

#include <wx/aboutdlg.h>
#include <wx/button.h>
#include <wx/checkbox.h>
#include <wx/filedlg.h>
#include <wx/gauge.h>
#include <wx/menu.h>
#include <wx/msgdlg.h>
#include <wx/panel.h>
#include <wx/sizer.h>
#include <wx/slider.h>
#include <wx/statusbr.h>
#include <wx/settings.h>
#include <wx/stattext.h>
#include <wx/wrapsizer.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "drawing.h"
#include "image_io.h"
#include "predictor.h"
#include "input_preview.h"
#include "paint_panel.h"
#include "probability_view.h"

namespace digits::gui {

namespace {

constexpr int kLiveMs = 60;  // while a stroke goes on, predict at most this often

enum MenuId {
  ID_CHOOSE_MODEL = wxID_HIGHEST + 1,
  ID_DEVICE_AUTO,
  ID_DEVICE_CPU,
  ID_DEVICE_CUDA,
  ID_PEN,
  ID_MULTI,
  ID_LEARN,
  ID_UNDO_CORRECTION,
  ID_USE_BUNDLED,
  ID_USE_PERSONAL,
  ID_LEARN_BUTTON  // not ID_LEARN: the menu item's update-UI text (with its accelerator) would reach the button
};

// Learn stops training after this long (the model is still saved): the window is never busy for minutes.
constexpr double kLearnSeconds = 30;

const wxColour kErrorColour(190, 30, 30);

wxString file_name(const std::string& path) { return wxString::FromUTF8(std::filesystem::path(path).filename().string()); }

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  return !a.empty() && !b.empty() && (a == b || std::filesystem::equivalent(a, b, ec));
}

wxString percent(double a) { return a < 0 ? wxString("-") : wxString::Format("%.1f%%", 100 * a); }

}  // namespace

std::string prediction_json(const Prediction& p, const PredictionSource& source) {
  nlohmann::ordered_json j;
  j["source"] = source.image ? "image" : "drawing";
  if (!source.image) j["strokes"] = source.strokes;
  j["digits"] = p.text;
  j["predictions"] = nlohmann::ordered_json::array();
  for (const DigitPrediction& d : p.digits) {
    nlohmann::ordered_json e;
    e["digit"] = d.digit;
    e["confidence"] = d.confidence;
    e["probs"] = d.probs;
    e["box"] = {d.input.x0, d.input.y0, d.input.x1, d.input.y1};
    j["predictions"].push_back(std::move(e));
  }
  j["empty"] = p.empty;
  j["ms"] = p.milliseconds;
  return j.dump();
}

// ---------------------------------------------------------------------------------------------------------
// construction

MainFrame::MainFrame(const GuiOptions& opt)
    : wxFrame(nullptr, wxID_ANY, "digits", wxDefaultPosition, wxSize(1060, 700)), opt_(opt), live_timer_(this) {
  BuildMenus();
  BuildLayout();
  CreateStatusBar(2);
  const int widths[2] = {-3, -1};
  SetStatusWidths(2, widths);
  SetStatusText(_("Loading the model..."), 0);

  Bind(EVT_DRAWING_CHANGED, &MainFrame::OnDrawingChanged, this);
  Bind(EVT_DIGIT_SELECTED, &MainFrame::OnDigitSelected, this);
  Bind(wxEVT_TIMER, &MainFrame::OnLiveTimer, this, live_timer_.GetId());
  Bind(wxEVT_CLOSE_WINDOW, &MainFrame::OnClose, this);
  Bind(wxEVT_CHAR_HOOK, &MainFrame::OnCharHook, this);
  Bind(EVT_DIGIT_CORRECTED, &MainFrame::OnDigitCorrected, this);
  // The first paint of the canvas means it is on screen (the smoke test waits for that).
  paint_->Bind(wxEVT_PAINT, [this](wxPaintEvent& e) {
    if (!canvas_shown_) {
      canvas_shown_ = true;
      CallAfter([this] { MaybeAnnounceReady(); });
    }
    e.Skip();
  });

  // Worker callbacks run on the worker thread: hop to the UI thread. CallAfter on this frame is safe even
  // while it is being destroyed (pending calls die with the handler); the worker is joined before that.
  worker_ = std::make_unique<PredictionWorker>(
      [this](ModelInfo info) { CallAfter([this, info = std::move(info)] { OnModelLoaded(info); }); },
      [this](PredictionResult r) { CallAfter([this, r = std::move(r)] { OnPredicted(r); }); });
  OpenStore();
  ChooseStartModel();
  LoadModel();
  if (!opt_.image.empty()) CallAfter([this] { OpenImage(wxString::FromUTF8(opt_.image)); });
}

MainFrame::~MainFrame() {
  live_timer_.Stop();
  learner_.reset();  // cancels and joins: the previous model file stays as it was
  worker_.reset();   // joins: no callback can arrive after this
}

void MainFrame::BuildMenus() {
  auto* file = new wxMenu;
  file->Append(wxID_OPEN, _("&Open image...\tCtrl+O"), _("Read the digits in a PNG, JPEG or PGM file"));
  file->Append(wxID_SAVE, _("&Save drawing...\tCtrl+S"), _("Save the drawing as a PNG file"));
  file->AppendSeparator();
  file->Append(ID_CHOOSE_MODEL, _("Choose &model...\tCtrl+M"), _("Load another model file (.safetensors)"));
  file->AppendSeparator();
  file->Append(wxID_EXIT, _("&Quit\tCtrl+Q"));
  auto* edit = new wxMenu;
  edit->Append(wxID_UNDO, _("&Undo stroke\tCtrl+Z"));
  edit->Append(wxID_CLEAR, _("&Clear\tEsc"));
  auto* model = new wxMenu;
  model->Append(ID_LEARN, _("&Learn my handwriting\tCtrl+L"),
                _("Fine-tune the model on your corrected samples and use the result (your personal model)"));
  model->Append(ID_UNDO_CORRECTION, _("Undo &correction\tCtrl+Shift+Z"), _("Remove the sample you saved last"));
  model->AppendSeparator();
  model->Append(ID_USE_BUNDLED, _("Use the &bundled model"), _("Read with the model that comes with digits"));
  model->Append(ID_USE_PERSONAL, _("Use your &personal model"), _("Read with the model Learn made from your samples"));
  auto* device = new wxMenu;
  device->AppendRadioItem(ID_DEVICE_AUTO, _("&Auto (CUDA when present)"));
  device->AppendRadioItem(ID_DEVICE_CPU, _("&CPU"));
  device->AppendRadioItem(ID_DEVICE_CUDA, _("CU&DA"));
  device->Check(opt_.device == DevicePref::Cpu ? ID_DEVICE_CPU
                : opt_.device == DevicePref::Cuda ? ID_DEVICE_CUDA
                                                  : ID_DEVICE_AUTO,
                true);
  auto* help = new wxMenu;
  help->Append(wxID_ABOUT, _("&About digits"));
  auto* bar = new wxMenuBar;
  bar->Append(file, _("&File"));
  bar->Append(edit, _("&Edit"));
  bar->Append(model, _("&Model"));
  bar->Append(device, _("&Device"));
  bar->Append(help, _("&Help"));
  SetMenuBar(bar);

  Bind(wxEVT_MENU, &MainFrame::OnOpenImage, this, wxID_OPEN);
  Bind(wxEVT_MENU, &MainFrame::OnSaveDrawing, this, wxID_SAVE);
  Bind(wxEVT_MENU, &MainFrame::OnChooseModel, this, ID_CHOOSE_MODEL);
  Bind(wxEVT_MENU, &MainFrame::OnQuit, this, wxID_EXIT);
  Bind(wxEVT_MENU, &MainFrame::OnUndo, this, wxID_UNDO);
  Bind(wxEVT_MENU, &MainFrame::OnClear, this, wxID_CLEAR);
  Bind(wxEVT_MENU, &MainFrame::OnDevice, this, ID_DEVICE_AUTO, ID_DEVICE_CUDA);
  Bind(wxEVT_MENU, &MainFrame::OnAbout, this, wxID_ABOUT);
  Bind(wxEVT_MENU, &MainFrame::OnLearn, this, ID_LEARN);
  Bind(wxEVT_MENU, &MainFrame::OnUndoCorrection, this, ID_UNDO_CORRECTION);
  Bind(wxEVT_MENU, &MainFrame::OnUseBundled, this, ID_USE_BUNDLED);
  Bind(wxEVT_MENU, &MainFrame::OnUsePersonal, this, ID_USE_PERSONAL);
  Bind(wxEVT_UPDATE_UI, [this](wxUpdateUIEvent& e) { e.Enable(corrections_ > 0); }, ID_UNDO_CORRECTION);
  Bind(wxEVT_UPDATE_UI, [this](wxUpdateUIEvent& e) {
    e.Enable(!learner_ && !bundled_path_.empty() && !same_file(current_model_, bundled_path_));
  }, ID_USE_BUNDLED);
  Bind(wxEVT_UPDATE_UI, [this](wxUpdateUIEvent& e) {
    std::error_code ec;
    e.Enable(!learner_ && std::filesystem::exists(personal_path_, ec) && !same_file(current_model_, personal_path_));
  }, ID_USE_PERSONAL);
  Bind(wxEVT_UPDATE_UI, [this](wxUpdateUIEvent& e) {
    e.SetText(learner_ ? _("Stop &learning\tCtrl+L") : _("&Learn my handwriting\tCtrl+L"));
  }, ID_LEARN);
}

// The row under the canvas; it wraps into two rows in a narrow window (the canvas shrinks, not the results).
wxSizer* MainFrame::BuildControls(wxWindow* root) {
  auto* buttons = new wxBoxSizer(wxHORIZONTAL);
  auto* clear = new wxButton(root, wxID_CLEAR, _("Clear"));
  auto* undo = new wxButton(root, wxID_UNDO, _("Undo"));
  auto* open = new wxButton(root, wxID_OPEN, _("Open image..."));
  clear->SetToolTip(_("Clear the drawing (Esc)"));
  undo->SetToolTip(_("Remove the last stroke (Ctrl+Z)"));
  open->SetToolTip(_("Read the digits in a PNG, JPEG or PGM file (Ctrl+O)"));
  buttons->Add(clear, 0, wxRIGHT, 6);
  buttons->Add(undo, 0, wxRIGHT, 6);
  buttons->Add(open, 0, wxRIGHT, 16);
  auto* pen = new wxBoxSizer(wxHORIZONTAL);
  pen->Add(new wxStaticText(root, wxID_ANY, _("Pen")), 0, wxALIGN_CENTER_VERTICAL | wxRIGHT, 4);
  pen_ = new wxSlider(root, ID_PEN, int(std::lround(paint_->GetPenWidth() * 100)), 1, 15, wxDefaultPosition,
                      wxSize(120, -1), wxSL_HORIZONTAL | wxSL_VALUE_LABEL);
  pen_->SetToolTip(_("Pen width in percent of the canvas height: strokes keep their look at any window size"));
  pen->Add(pen_, 0, wxALIGN_CENTER_VERTICAL | wxRIGHT, 16);
  multi_ = new wxCheckBox(root, ID_MULTI, _("Several digits"));
  multi_->SetValue(true);
  multi_->SetToolTip(_("Segment the drawing into digits and read them left to right"));
  auto* learn = new wxBoxSizer(wxHORIZONTAL);
  learn_ = new wxButton(root, ID_LEARN_BUTTON, _("Learn my handwriting"));
  learn_->SetToolTip(_("Fine-tune the model on the samples you corrected, then read with it (Ctrl+L)"));
  gauge_ = new wxGauge(root, wxID_ANY, 100, wxDefaultPosition, wxSize(100, -1));
  gauge_->Hide();
  learn->Add(learn_, 0, wxALIGN_CENTER_VERTICAL | wxRIGHT, 6);
  learn->Add(gauge_, 0, wxALIGN_CENTER_VERTICAL);
  auto* controls = new wxWrapSizer(wxHORIZONTAL);
  controls->Add(buttons, 0, wxALIGN_CENTER_VERTICAL);
  controls->Add(pen, 0, wxALIGN_CENTER_VERTICAL);
  controls->Add(multi_, 0, wxALIGN_CENTER_VERTICAL | wxRIGHT, 16);
  controls->Add(learn, 0, wxALIGN_CENTER_VERTICAL);
  return controls;
}

void MainFrame::BuildLayout() {
  auto* root = new wxPanel(this);
  auto* main = new wxBoxSizer(wxHORIZONTAL);

  // Left: the canvas and its controls.
  auto* left = new wxBoxSizer(wxVERTICAL);
  paint_ = new PaintPanel(root);
  left->Add(paint_, 1, wxEXPAND | wxALL, 8);
  left->Add(BuildControls(root), 0, wxEXPAND | wxLEFT | wxRIGHT | wxBOTTOM, 8);
  main->Add(left, 3, wxEXPAND);

  // Right: what the network read.
  auto* right = new wxBoxSizer(wxVERTICAL);
  answer_ = new wxStaticText(root, wxID_ANY, _("no digit"), wxDefaultPosition, wxDefaultSize,
                             wxST_NO_AUTORESIZE | wxALIGN_CENTRE_HORIZONTAL | wxST_ELLIPSIZE_END);
  answer_->SetFont(answer_->GetFont().Scaled(3.2f).Bold());
  answer_->SetMinSize(wxSize(300, answer_->GetCharHeight() + 8));
  right->Add(answer_, 0, wxEXPAND | wxTOP, 12);
  details_ = new wxStaticText(root, wxID_ANY, _("Draw a digit, or several side by side."), wxDefaultPosition,
                              wxDefaultSize, wxST_NO_AUTORESIZE | wxALIGN_CENTRE_HORIZONTAL);
  details_->SetMinSize(wxSize(300, 2 * details_->GetCharHeight() + 4));
  right->Add(details_, 0, wxEXPAND | wxTOP | wxBOTTOM, 6);
  bars_title_ = new wxStaticText(root, wxID_ANY, _("Probabilities"));
  bars_title_->SetFont(bars_title_->GetFont().Bold());
  right->Add(bars_title_, 0, wxTOP, 8);
  bars_ = new ProbabilityView(root);
  right->Add(bars_, 1, wxEXPAND | wxTOP, 4);
  counts_title_ = new wxStaticText(root, wxID_ANY, "", wxDefaultPosition, wxDefaultSize, wxST_NO_AUTORESIZE);
  counts_title_->SetForegroundColour(wxSystemSettings::GetColour(wxSYS_COLOUR_GRAYTEXT));
  right->Add(counts_title_, 0, wxEXPAND | wxTOP, 2);
  auto* seen = new wxStaticText(root, wxID_ANY, _("What the network sees (28 x 28, click to choose)"));
  seen->SetFont(seen->GetFont().Bold());
  right->Add(seen, 0, wxTOP, 12);
  preview_ = new InputPreview(root);
  right->Add(preview_, 1, wxEXPAND | wxTOP, 4);
  message_ = new wxStaticText(root, wxID_ANY, "", wxDefaultPosition, wxDefaultSize, wxST_NO_AUTORESIZE);
  message_->SetMinSize(wxSize(300, 4 * message_->GetCharHeight()));
  right->Add(message_, 0, wxEXPAND | wxTOP | wxBOTTOM, 8);
  main->Add(right, 2, wxEXPAND | wxRIGHT, 12);

  root->SetSizer(main);
  Bind(wxEVT_BUTTON, &MainFrame::OnClear, this, wxID_CLEAR);
  Bind(wxEVT_BUTTON, &MainFrame::OnUndo, this, wxID_UNDO);
  Bind(wxEVT_BUTTON, &MainFrame::OnOpenImage, this, wxID_OPEN);
  Bind(wxEVT_SLIDER, &MainFrame::OnPenWidth, this, ID_PEN);
  Bind(wxEVT_CHECKBOX, &MainFrame::OnMultiDigit, this, ID_MULTI);
  Bind(wxEVT_BUTTON, &MainFrame::OnLearn, this, ID_LEARN_BUTTON);
  paint_->SetFocus();
}

// ---------------------------------------------------------------------------------------------------------
// helpers

template <class F>
void MainFrame::Safely(const char* what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    ReportError(wxString::Format("%s: %s", what, wxString::FromUTF8(e.what())));
  } catch (...) {
    ReportError(wxString::Format("%s: unknown error", what));
  }
}

void MainFrame::ReportError(const wxString& what) {
  try {
    ShowMessage(what, true);
    SetStatusText(what.BeforeFirst('\n'), 0);
    std::fprintf(stderr, "digits-gui: %s\n", static_cast<const char*>(what.utf8_str()));
  } catch (...) {  // reporting must never throw
  }
}

void MainFrame::ShowMessage(const wxString& text, bool error) {
  message_->SetForegroundColour(error ? kErrorColour : wxSystemSettings::GetColour(wxSYS_COLOUR_WINDOWTEXT));
  message_->SetLabel(text);
  message_->Wrap(std::max(200, message_->GetSize().x));
  // As tall as its wrapped lines (at least the 4 it starts with): the panel above gives up the room.
  const int lines = 1 + int(message_->GetLabel().Freq('\n'));
  message_->SetMinSize(wxSize(300, std::max(4, lines) * message_->GetCharHeight()));
  message_->GetParent()->Layout();
}

void MainFrame::UpdateStatus() {
  if (loading_) {
    SetStatusText(_("Loading the model..."), 0);
  } else if (model_ok_) {
    SetStatusText(wxString::Format("%s  |  %s %s", wxString::FromUTF8(backend_name_), ModelRole(current_model_),
                                   wxString::FromUTF8(model_text_)),
                  0);
  }
}

wxString MainFrame::ModelRole(const std::string& path) const {
  if (same_file(path, personal_path_)) return _("your personal model");
  if (same_file(path, bundled_path_)) return _("bundled model");
  return _("model");
}

void MainFrame::Log(const std::string& line) {
  if (!opt_.log_predictions) return;
  std::fprintf(stderr, "digits-gui: %s\n", line.c_str());
  std::fflush(stderr);
}

// The smoke test reads this line to find the canvas and to know the model is in.
void MainFrame::MaybeAnnounceReady() {
  if (announced_ || !canvas_shown_ || loading_ || !opt_.log_predictions) return;
  announced_ = true;
  const wxPoint p = paint_->GetScreenPosition();
  const wxSize s = paint_->GetClientSize();
  std::fprintf(stderr, "digits-gui: ready canvas=%d,%d,%d,%d model=%s\n", p.x, p.y, s.x, s.y, model_ok_ ? "ok" : "none");
  std::fflush(stderr);
}

// ---------------------------------------------------------------------------------------------------------
// model and predictions

void MainFrame::LoadModel() {
  if (!worker_) return;  // closing
  loading_ = true;
  model_ok_ = false;
  UpdateStatus();
  worker_->load(opt_.model, opt_.device, opt_.threads);
}

void MainFrame::OnModelLoaded(const ModelInfo& info) {
  loading_ = false;
  model_ok_ = info.ok;
  if (info.ok) {
    current_model_ = info.model_path;
    if (!same_file(current_model_, personal_path_)) base_model_ = current_model_;
    backend_name_ = info.backend;
    model_text_ = file_name(info.model_path).utf8_str().data();
    if (!info.description.empty()) model_text_ += ": " + info.description;
    std::fprintf(stderr, "digits-gui: %s; model %s\n", info.reason.c_str(), info.model_path.c_str());
    UpdateStatus();
    warning_ = info.warning.empty() ? wxString()
                                    : wxString::FromUTF8(info.warning) + "\n" + _("Running on the CPU instead.");
    prediction_error_ = false;
    const wxString note = load_note_;
    load_note_.clear();
    ShowMessage(warning_.empty() ? note : warning_, !warning_.empty());
    RequestPrediction();  // whatever is on the canvas now, with the new model
  } else {
    ReportError(wxString::Format(_("Cannot load the model: %s\nChoose one with File > Choose model."),
                                 wxString::FromUTF8(info.error)));
    ShowPrediction(Prediction{});
  }
  MaybeAnnounceReady();
}

void MainFrame::RequestPrediction() {
  Safely("prediction", [&] {
    if (!worker_) return;  // closing
    if (!model_ok_) {
      if (!loading_) ShowMessage(_("No model loaded: choose one with File > Choose model."), true);
      return;
    }
    GrayImage snap = paint_->Snapshot();
    if (snap.width <= 0 || snap.height <= 0) return;  // a panel with no area yet
    PreprocessOptions popt;
    popt.multi_digit = multi_->GetValue();
    requested_[next_seq_] = PredictionSource{paint_->HasImage(), paint_->StrokeCount()};
    worker_->predict(next_seq_++, std::move(snap), popt);
  });
}

void MainFrame::OnPredicted(const PredictionResult& r) {
  const auto req = requested_.find(r.seq);
  const PredictionSource source = req != requested_.end() ? req->second : PredictionSource{};
  requested_.erase(requested_.begin(), requested_.upper_bound(r.seq));  // the worker skipped older ones
  if (r.seq <= shown_seq_) return;  // a newer answer is already on screen
  shown_seq_ = r.seq;
  Safely("prediction", [&] {
    if (!r.ok) {
      prediction_error_ = true;
      ReportError(wxString::FromUTF8(r.error));
      return;
    }
    if (prediction_error_) {
      prediction_error_ = false;
      ShowMessage(warning_, !warning_.empty());
    }
    ShowPrediction(r.prediction);
    if (opt_.log_predictions) {
      std::fputs((prediction_json(r.prediction, source) + "\n").c_str(), stdout);
      std::fflush(stdout);
    }
  });
}

void MainFrame::ShowPrediction(const Prediction& p) {
  last_ = p;
  if (p.empty) {
    answer_->SetLabel(_("no digit"));
    details_->SetLabel(paint_->IsBlank() ? _("Draw a digit, or several side by side.") : _("Not enough ink to read."));
    preview_->Clear();
    paint_->SetBoxes({});
  } else {
    answer_->SetLabel(wxString::FromUTF8(p.text));
    wxString conf;
    std::vector<PaintPanel::Box> boxes;
    for (size_t i = 0; i < p.digits.size(); ++i) {
      const DigitPrediction& d = p.digits[i];
      conf += wxString::Format("%s%d: %.1f%%", i ? "    " : "", d.digit, 100.0 * d.confidence);
      boxes.push_back({d.input.x0, d.input.y0, d.input.x1, d.input.y1, wxString::Format("%d", d.digit)});
    }
    details_->SetLabel(conf);
    details_->Wrap(std::max(200, details_->GetSize().x));
    preview_->SetDigits(p.digits);
    paint_->SetBoxes(std::move(boxes));
  }
  ShowSelectedBars();
  SetStatusText(p.empty && p.milliseconds == 0 ? wxString()
                                               : wxString::Format(_("%.1f ms (preprocess + inference)"), p.milliseconds),
                1);
  answer_->GetParent()->Layout();
}

void MainFrame::ShowSelectedBars() {
  const int sel = preview_->GetSelection();
  if (last_.empty || sel < 0 || sel >= int(last_.digits.size())) {
    bars_->Clear();
    bars_title_->SetLabel(_("Probabilities"));
    return;
  }
  bars_->SetProbabilities(last_.digits[size_t(sel)].probs);
  bars_title_->SetLabel(last_.digits.size() > 1
                            ? wxString::Format(_("Probabilities: digit %d of %zu"), sel + 1, last_.digits.size())
                            : _("Probabilities"));
}

// ---------------------------------------------------------------------------------------------------------
// events

void MainFrame::OnDrawingChanged(wxCommandEvent& event) {
  if (!paint_->HasImage() && GetTitle() != "digits") SetTitle("digits");  // back to drawing
  if (event.GetInt()) {  // a finished change: answer now
    live_timer_.Stop();
    RequestPrediction();
  } else if (!live_timer_.IsRunning()) {
    live_timer_.StartOnce(kLiveMs);
  }
}

void MainFrame::OnLiveTimer(wxTimerEvent&) { RequestPrediction(); }

void MainFrame::OnDigitSelected(wxCommandEvent&) { ShowSelectedBars(); }

void MainFrame::OnOpenImage(wxCommandEvent&) {
  wxFileDialog dlg(this, _("Open an image"), "", "",
                   _("Images (PNG, JPEG, PGM)|*.png;*.jpg;*.jpeg;*.pgm;*.ppm;*.pbm;*.pnm;*.PNG;*.JPG;*.JPEG|"
                     "PNG (*.png)|*.png;*.PNG|JPEG (*.jpg, *.jpeg)|*.jpg;*.jpeg;*.JPG;*.JPEG|"
                     "PGM, PPM (*.pgm, *.ppm, *.pbm, *.pnm)|*.pgm;*.ppm;*.pbm;*.pnm|All files (*)|*"),
                   wxFD_OPEN | wxFD_FILE_MUST_EXIST);
  if (dlg.ShowModal() == wxID_OK) OpenImage(dlg.GetPath());
}

void MainFrame::OpenImage(const wxString& path) {
  const wxString name = file_name(path.utf8_string());
  GrayImage img;
  try {
    img = load_image(path.utf8_string());
  } catch (const std::exception& e) {
    const wxString what = wxString::FromUTF8(e.what());
    SetStatusText(wxString::Format(_("Cannot open %s"), name), 0);
    std::fprintf(stderr, "digits-gui: cannot open %s\n", e.what());
    wxMessageBox(wxString::Format(_("Cannot read this image:\n%s"), what), _("digits: cannot open the image"),
                 wxOK | wxICON_ERROR, this);
    return;
  }
  Safely("open image", [&] {
    paint_->ShowImage(img, name);
    SetTitle("digits - " + name);
  });
}

void MainFrame::OnSaveDrawing(wxCommandEvent&) {
  wxFileDialog dlg(this, _("Save the drawing"), "", "drawing.png", _("PNG images (*.png)|*.png"),
                   wxFD_SAVE | wxFD_OVERWRITE_PROMPT);
  if (dlg.ShowModal() != wxID_OK) return;
  Safely("save", [&] {
    std::string path(dlg.GetPath().utf8_str());
    if (std::filesystem::path(path).extension().empty()) path += ".png";
    save_png(path, paint_->Snapshot(/*full_size=*/true));
    SetStatusText(wxString::Format(_("Saved %s"), wxString::FromUTF8(path)), 0);
  });
}

void MainFrame::OnChooseModel(wxCommandEvent&) {
  wxFileDialog dlg(this, _("Choose a model"), "", "", _("Model files (*.safetensors)|*.safetensors|All files (*)|*"),
                   wxFD_OPEN | wxFD_FILE_MUST_EXIST);
  if (dlg.ShowModal() != wxID_OK) return;
  opt_.model = std::string(dlg.GetPath().utf8_str());
  LoadModel();
}

void MainFrame::OnDevice(wxCommandEvent& event) {
  const DevicePref pref = event.GetId() == ID_DEVICE_CPU    ? DevicePref::Cpu
                          : event.GetId() == ID_DEVICE_CUDA ? DevicePref::Cuda
                                                            : DevicePref::Auto;
  if (pref == opt_.device && model_ok_) return;
  opt_.device = pref;
  LoadModel();
}

void MainFrame::OnClear(wxCommandEvent&) { paint_->Clear(); }

void MainFrame::OnUndo(wxCommandEvent&) { paint_->Undo(); }

void MainFrame::OnMultiDigit(wxCommandEvent&) { RequestPrediction(); }

void MainFrame::OnPenWidth(wxCommandEvent&) { paint_->SetPenWidth(pen_->GetValue() / 100.0); }

void MainFrame::OnAbout(wxCommandEvent&) {
  wxAboutDialogInfo info;
  info.SetName("digits");
  info.SetVersion(DIGITS_VERSION);
  info.SetDescription(_("Handwritten digits read by a convolutional network, on the CPU or a CUDA GPU.\n"
                        "Draw with the mouse, a pen or a finger.") +
                      "\n\n" + wxString::FromUTF8(backend_name_) + "\n" + wxString::FromUTF8(model_text_));
  wxAboutBox(info, this);
}

void MainFrame::OnQuit(wxCommandEvent&) { Close(); }

void MainFrame::OnClose(wxCloseEvent& event) {
  live_timer_.Stop();
  if (learner_) Log("closing: learning cancelled");
  learner_.reset();  // cancels the fine-tuning at its next step and joins: the previous model stays intact
  worker_.reset();   // waits for the inference in flight (milliseconds)
  event.Skip();     // default handling destroys the frame
}


// ---------------------------------------------------------------------------------------------------------
// personal samples: correcting a misread drawing

void MainFrame::OpenStore() {
  try {
    personal_path_ = default_personal_model_path();
  } catch (const std::exception& e) {
    store_error_ = wxString::FromUTF8(e.what());
  }
  try {
    store_ = std::make_unique<SampleStore>(opt_.samples.empty() ? default_samples_dir() : opt_.samples);
  } catch (const std::exception& e) {
    store_error_ = wxString::FromUTF8(e.what());
  }
  ShowCounts();
}

// No model asked for (--model, $DIGITS_MODEL) and a personal model exists: start with it.
void MainFrame::ChooseStartModel() {
  try {
    bundled_path_ = default_model_path();
  } catch (const std::exception&) {  // LoadModel says so
  }
  std::error_code ec;
  const char* env = std::getenv("DIGITS_MODEL");
  if (opt_.model.empty() && !(env && *env) && !personal_path_.empty() && std::filesystem::exists(personal_path_, ec))
  {
    opt_.model = personal_path_;
    load_note_ = _("Reading with your personal model (learned from your samples); Model > Use the bundled model "
                   "switches back.");
  }
  base_model_ = opt_.model.empty() || same_file(opt_.model, personal_path_) ? bundled_path_ : opt_.model;
}

void MainFrame::ShowCounts() {
  if (!store_) {
    counts_title_->SetLabel(_("No sample store: ") + store_error_);
    return;
  }
  int total = 0;
  Safely("reading the samples", [&] {
    const std::array<int, 10> counts = store_->counts();
    for (int c : counts) total += c;
    bars_->SetCounts(counts);
  });
  counts_title_->SetLabel(
      wxString::Format(_("Your samples per digit (%d). Misread? Click the right one."), total));
}

GrayImage MainFrame::SampleImage() {
  GrayImage snap = paint_->Snapshot();
  if (last_.digits.size() <= 1) return snap;
  const int sel = std::clamp(preview_->GetSelection(), 0, int(last_.digits.size()) - 1);
  const DigitInput& d = last_.digits[size_t(sel)].input;
  return crop_digit(snap, d.x0, d.y0, d.x1, d.y1);
}

// Saves what is on the canvas as the user's sample of `digit`: the whole drawing when it reads as one digit,
// else the selected digit's part. Saying another digit for the same drawing relabels its sample.
void MainFrame::Correct(int digit) {
  Safely("saving the sample", [&] {
    if (!store_) {
      ShowMessage(_("Cannot save samples: ") + store_error_ + "\n" + _("Start digits-gui with --samples DIR."), true);
      return;
    }
    if (paint_->IsBlank() || last_.empty) {
      ShowMessage(_("Draw a digit first. When it is misread, click the right digit under the bars or press its key."),
                  false);
      return;
    }
    if (live_timer_.IsRunning() || !requested_.empty() || paint_->IsDrawing()) {
      ShowMessage(_("Still reading the drawing: say which digit it is in a moment."), false);
      return;
    }
    if (saved_seq_ == shown_seq_ && saved_digit_ == digit) {
      ShowMessage(wxString::Format(_("Already saved as your %d."), digit), false);
      return;
    }
    if (saved_seq_ == shown_seq_ && corrections_ > 0 && !store_->undo().empty()) --corrections_;  // relabel
    const std::string path = store_->add(digit, SampleImage());
    ++corrections_;
    saved_seq_ = shown_seq_;
    saved_digit_ = digit;
    ShowCounts();
    ShowMessage(wxString::Format(_("Saved as your %d%s. Undo: Model > Undo correction (Ctrl+Shift+Z).\n"
                                   "With a few samples of each misread digit, press Learn my handwriting."),
                                 digit, last_.digits.size() > 1 ? _(" (the selected digit)") : wxString()),
                false);
    SetStatusText(wxString::Format(_("Saved %s"), wxString::FromUTF8(path)), 0);
    Log("sample " + std::to_string(digit) + " " + path);
  });
}

void MainFrame::OnDigitCorrected(wxCommandEvent& event) { Correct(event.GetInt()); }

// A digit key (no Ctrl or Alt) on a canvas with ink says which digit it is; every other key goes on.
void MainFrame::OnCharHook(wxKeyEvent& event) {
  const int key = event.GetKeyCode();
  int digit = -1;
  if (key >= '0' && key <= '9') digit = key - '0';
  if (key >= WXK_NUMPAD0 && key <= WXK_NUMPAD9) digit = key - WXK_NUMPAD0;
  if (digit < 0 || event.HasModifiers() || paint_->IsBlank()) {  // Shift allowed: digits on AZERTY
    event.Skip();
    return;
  }
  Correct(digit);
}

void MainFrame::OnUndoCorrection(wxCommandEvent&) {
  Safely("undoing the correction", [&] {
    if (!store_ || corrections_ <= 0) return;
    const std::string path = store_->undo();
    --corrections_;
    saved_seq_ = 0;
    saved_digit_ = -1;
    ShowCounts();
    ShowMessage(path.empty() ? _("Nothing to undo.") : _("Removed the sample saved last."), false);
    if (!path.empty()) SetStatusText(wxString::Format(_("Removed %s"), wxString::FromUTF8(path)), 0);
    Log("undo " + path);
  });
}

// ---------------------------------------------------------------------------------------------------------
// personal model: Learn, and switching models

void MainFrame::OnLearn(wxCommandEvent&) {
  if (learner_) {  // the button reads "Stop learning" while it runs
    learner_->cancel();
    SetStatusText(_("Stopping..."), 0);
    return;
  }
  Safely("learn", [&] { StartLearning(); });
}

void MainFrame::StartLearning() {
  if (!store_ || personal_path_.empty()) {
    ShowMessage(_("Cannot learn: ") + store_error_, true);
    return;
  }
  if (store_->total() == 0) {
    ShowMessage(_("No samples yet. Draw a digit; when it is misread, click the right digit under the bars (or "
                  "press its key) to save it. Save a few of each, then press Learn my handwriting."),
                true);
    Log("learn: no samples in " + store_->dir());
    return;
  }
  if (base_model_.empty()) {
    ShowMessage(_("Cannot learn: no model to start from. Choose one with File > Choose model."), true);
    return;
  }
  std::filesystem::create_directories(std::filesystem::path(personal_path_).parent_path());
  LearnJob job{base_model_, store_->dir(), personal_path_, opt_.data, opt_.device, kLearnSeconds};
  learner_ = std::make_unique<FinetuneWorker>(
      std::move(job), [this](const FinetuneProgress& p) { CallAfter([this, p] { OnLearnProgress(p); }); },
      [this](LearnResult r) { CallAfter([this, r = std::move(r)] { OnLearned(r); }); });
  learn_->SetLabel(_("Stop learning"));
  gauge_->SetValue(0);
  gauge_->Show();
  learn_->GetParent()->Layout();
  SetStatusText(wxString::Format(_("Learning your handwriting from %d samples (starting from %s)..."),
                                 store_->total(), file_name(base_model_)),
                0);
  Log("learning from " + std::to_string(store_->total()) + " samples, base " + base_model_);
}

void MainFrame::OnLearnProgress(const FinetuneProgress& p) {
  if (!learner_ || p.steps <= 0) return;
  gauge_->SetRange(p.steps);
  gauge_->SetValue(std::min(p.step, p.steps));
  SetStatusText(wxString::Format(_("Learning your handwriting: step %d of %d, %.1f s"), p.step, p.steps, p.seconds), 0);
  Log("learning step " + std::to_string(p.step) + "/" + std::to_string(p.steps));
}

void MainFrame::OnLearned(const LearnResult& r) {
  learner_.reset();  // its thread made this call last: joins at once
  learn_->SetLabel(_("Learn my handwriting"));
  gauge_->Hide();
  learn_->GetParent()->Layout();
  if (!r.ok) {
    ReportError(wxString::Format(_("Learning failed: %s"), wxString::FromUTF8(r.error)));
    UpdateStatus();
    return;
  }
  if (r.result.cancelled) {
    ShowMessage(_("Learning stopped: the model was not changed."), false);
    UpdateStatus();
    Log("learning cancelled");
    return;
  }
  const FinetuneResult& f = r.result;
  wxString text = wxString::Format(_("Learned from %d samples in %.1f s."), f.trained_on, f.seconds);
  if (f.held_back.count > 0)
    text += wxString::Format(_(" Held back: %s -> %s%s;"), percent(f.held_back.before), percent(f.held_back.after),
                             f.held_back.misread.empty()
                                 ? wxString()
                                 : wxString::Format(_(", still misread: %s (more samples of %s would help)"),
                                                    wxString::FromUTF8(describe(f.held_back.misread)),
                                                    wxString::FromUTF8(digits_to_add(f.held_back.misread))));
  if (r.mnist)
    text += wxString::Format(_(" MNIST test: %s -> %s."), percent(f.mnist_test.before), percent(f.mnist_test.after));
  else
    text += _(" MNIST not found: no replay (see --data).");
  if (!r.skipped.empty())
    text += wxString::Format(_("\n%zu unreadable samples skipped (see stderr)."), r.skipped.size());
  for (const std::string& s : r.skipped) std::fprintf(stderr, "digits-gui: skipped sample %s\n", s.c_str());
  load_note_ = text + "\n" + _("Now reading with your personal model (Model menu: back to the bundled one).");
  Log(wxString::Format("learned samples=%d seconds=%.1f held_back=%s->%s mnist=%s->%s on %s", f.trained_on, f.seconds,
                       percent(f.held_back.before), percent(f.held_back.after), percent(f.mnist_test.before),
                       percent(f.mnist_test.after), wxString::FromUTF8(r.backend))
          .utf8_string());
  UseModel(personal_path_);
}

void MainFrame::UseModel(const std::string& path) {
  opt_.model = path;
  LoadModel();
}

void MainFrame::OnUseBundled(wxCommandEvent&) {
  if (!bundled_path_.empty()) UseModel(bundled_path_);
}

void MainFrame::OnUsePersonal(wxCommandEvent&) {
  if (!personal_path_.empty()) UseModel(personal_path_);
}

}  // namespace digits::gui
