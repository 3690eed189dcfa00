// MainFrame: layout, menus, the live-prediction timer, and the hand-over between the UI thread and the
// PredictionWorker (results come back through CallAfter; a result older than the one shown is dropped).
#include "main_frame.h"

#include <wx/aboutdlg.h>
#include <wx/button.h>
#include <wx/checkbox.h>
#include <wx/filedlg.h>
#include <wx/menu.h>
#include <wx/msgdlg.h>
#include <wx/panel.h>
#include <wx/sizer.h>
#include <wx/slider.h>
#include <wx/statusbr.h>
#include <wx/settings.h>
#include <wx/stattext.h>
#include <wx/wrapsizer.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "image_io.h"
#include "input_preview.h"
#include "paint_panel.h"
#include "probability_view.h"

namespace digits::gui {

namespace {

constexpr int kLiveMs = 60;  // while a stroke goes on, predict at most this often

enum MenuId { ID_CHOOSE_MODEL = wxID_HIGHEST + 1, ID_DEVICE_AUTO, ID_DEVICE_CPU, ID_DEVICE_CUDA, ID_PEN, ID_MULTI };

const wxColour kErrorColour(190, 30, 30);

wxString file_name(const std::string& path) { return wxString::FromUTF8(std::filesystem::path(path).filename().string()); }

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
  LoadModel();
  if (!opt_.image.empty()) CallAfter([this] { OpenImage(wxString::FromUTF8(opt_.image)); });
}

MainFrame::~MainFrame() {
  live_timer_.Stop();
  worker_.reset();  // joins: no callback can arrive after this
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
  auto* controls = new wxWrapSizer(wxHORIZONTAL);
  controls->Add(buttons, 0, wxALIGN_CENTER_VERTICAL);
  controls->Add(pen, 0, wxALIGN_CENTER_VERTICAL);
  controls->Add(multi_, 0, wxALIGN_CENTER_VERTICAL);
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
  auto* seen = new wxStaticText(root, wxID_ANY, _("What the network sees (28 x 28, click to choose)"));
  seen->SetFont(seen->GetFont().Bold());
  right->Add(seen, 0, wxTOP, 12);
  preview_ = new InputPreview(root);
  right->Add(preview_, 1, wxEXPAND | wxTOP, 4);
  message_ = new wxStaticText(root, wxID_ANY, "", wxDefaultPosition, wxDefaultSize, wxST_NO_AUTORESIZE);
  message_->SetMinSize(wxSize(300, 3 * message_->GetCharHeight()));
  right->Add(message_, 0, wxEXPAND | wxTOP | wxBOTTOM, 8);
  main->Add(right, 2, wxEXPAND | wxRIGHT, 12);

  root->SetSizer(main);
  Bind(wxEVT_BUTTON, &MainFrame::OnClear, this, wxID_CLEAR);
  Bind(wxEVT_BUTTON, &MainFrame::OnUndo, this, wxID_UNDO);
  Bind(wxEVT_BUTTON, &MainFrame::OnOpenImage, this, wxID_OPEN);
  Bind(wxEVT_SLIDER, &MainFrame::OnPenWidth, this, ID_PEN);
  Bind(wxEVT_CHECKBOX, &MainFrame::OnMultiDigit, this, ID_MULTI);
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
  message_->GetParent()->Layout();
}

void MainFrame::UpdateStatus() {
  if (loading_) {
    SetStatusText(_("Loading the model..."), 0);
  } else if (model_ok_) {
    SetStatusText(wxString::Format("%s  |  model %s", wxString::FromUTF8(backend_name_), wxString::FromUTF8(model_text_)), 0);
  }
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
    backend_name_ = info.backend;
    model_text_ = file_name(info.model_path).utf8_str().data();
    if (!info.description.empty()) model_text_ += ": " + info.description;
    std::fprintf(stderr, "digits-gui: %s; model %s\n", info.reason.c_str(), info.model_path.c_str());
    UpdateStatus();
    warning_ = info.warning.empty() ? wxString()
                                    : wxString::FromUTF8(info.warning) + "\n" + _("Running on the CPU instead.");
    prediction_error_ = false;
    ShowMessage(warning_, !warning_.empty());
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
  worker_.reset();  // waits for the inference in flight (milliseconds)
  event.Skip();     // default handling destroys the frame
}

}  // namespace digits::gui
