// digits-gui entry point: parses --model, --device, --threads, --samples, --data, --log-predictions and an
// image to open before wxWidgets starts (so --help and argument errors need no display), shows the MainFrame,
// and makes sure no exception ends the program: anything that escapes a handler is reported in the window.
#include <wx/app.h>
#include <wx/image.h>
#include <wx/log.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "backend.h"
#include "main_frame.h"

namespace digits::gui {

namespace {

const char* const kUsage =
    "usage: digits-gui [--model FILE] [--device auto|cpu|cuda] [--threads N] [--samples DIR] [--data DIR]\n"
    "                  [--log-predictions] [IMAGE]\n"
    "  IMAGE               an image file (PNG, JPEG, PGM) to open and read at start\n"
    "  --model FILE        model file (default: your personal model when Learn made one, else the bundled\n"
    "                      model, or $DIGITS_MODEL)\n"
    "  --device D          auto (CUDA when present), cpu or cuda (default: $DIGITS_DEVICE, else auto)\n"
    "  --threads N         CPU threads for inference (default 1; 0 = all cores)\n"
    "  --samples DIR       where corrected drawings are saved, DIR/0 .. DIR/9 (default:\n"
    "                      $XDG_DATA_HOME/digits/samples, else ~/.local/share/digits/samples)\n"
    "  --data DIR          MNIST, replayed by Learn so MNIST accuracy holds (default: $MNIST_DIR, else\n"
    "                      data/mnist; without it Learn runs without replay)\n"
    "  --log-predictions   print each prediction as one JSON line on stdout\n"
    "GTK options such as --display are passed on.\n";

enum class Parse { Run, Help, Error };

// Accepts "--flag value" and "--flag=value". GTK's own options are left for GTK.
Parse parse_args(int argc, char** argv, GuiOptions& opt) {
  std::string device;
  if (const char* env = std::getenv("DIGITS_DEVICE"); env && *env) device = env;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i], value;
    if (a == "--help" || a == "-h") return Parse::Help;
    if (a == "--log-predictions") {
      opt.log_predictions = true;
      continue;
    }
    if (a == "--display" || a == "--name" || a == "--class") {  // GTK's, with a value
      ++i;
      continue;
    }
    if (a.rfind("--display=", 0) == 0 || a.rfind("--g", 0) == 0) continue;
    if (!a.empty() && a[0] != '-') {  // the image to open
      if (!opt.image.empty()) {
        std::fprintf(stderr, "digits-gui: one image at most, got '%s' and '%s'\n%s", opt.image.c_str(), argv[i], kUsage);
        return Parse::Error;
      }
      opt.image = a;
      continue;
    }
    const size_t eq = a.find('=');
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (a == "--model" || a == "--device" || a == "--threads" || a == "--samples" || a == "--data") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "digits-gui: %s needs a value\n%s", a.c_str(), kUsage);
        return Parse::Error;
      }
      value = argv[++i];
    }
    if ((a == "--samples" || a == "--data") && value.empty()) {
      std::fprintf(stderr, "digits-gui: %s needs a folder\n%s", a.c_str(), kUsage);
      return Parse::Error;
    }
    if (a == "--model") {
      opt.model = value;
    } else if (a == "--samples") {
      opt.samples = value;
    } else if (a == "--data") {
      opt.data = value;
    } else if (a == "--device") {
      device = value;
    } else if (a == "--threads") {
      char* end = nullptr;
      const long n = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || n < 0 || n > 1024) {
        std::fprintf(stderr, "digits-gui: --threads wants a number 0..1024, got '%s'\n%s", value.c_str(), kUsage);
        return Parse::Error;
      }
      opt.threads = int(n);
    } else {
      std::fprintf(stderr, "digits-gui: unknown argument '%s'\n%s", argv[i], kUsage);
      return Parse::Error;
    }
  }
  if (!device.empty()) {
    try {
      opt.device = parse_device_pref(device);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "digits-gui: %s\n%s", e.what(), kUsage);
      return Parse::Error;
    }
  }
  return Parse::Run;
}

}  // namespace

class App : public wxApp {
 public:
  explicit App(const GuiOptions& opt) : opt_(opt) {}

  bool OnInit() override {
    wxInitAllImageHandlers();
    frame_ = new MainFrame(opt_);
    frame_->Show();
    SetTopWindow(frame_);
    return true;
  }

  // An exception that escaped an event handler: report it and keep the window alive.
  bool OnExceptionInMainLoop() override {
    wxString what = "unexpected error";
    try {
      throw;
    } catch (const std::exception& e) {
      what = wxString::FromUTF8(e.what());
    } catch (...) {
    }
    if (frame_ && GetTopWindow() == frame_)
      frame_->ReportError(what);
    else
      std::fprintf(stderr, "digits-gui: %s\n", static_cast<const char*>(what.utf8_str()));
    return true;
  }

  void OnUnhandledException() override { std::fprintf(stderr, "digits-gui: unhandled exception\n"); }

 private:
  GuiOptions opt_;
  MainFrame* frame_ = nullptr;
};

}  // namespace digits::gui

int main(int argc, char** argv) {
  digits::gui::GuiOptions opt;
  switch (digits::gui::parse_args(argc, argv, opt)) {
    case digits::gui::Parse::Help:
      std::fputs(digits::gui::kUsage, stdout);
      return 0;
    case digits::gui::Parse::Error:
      return 2;
    case digits::gui::Parse::Run:
      break;
  }
  if (!std::getenv("DISPLAY") && !std::getenv("WAYLAND_DISPLAY")) {
    std::fputs("digits-gui: no display (DISPLAY is not set): run it in a desktop session or under xvfb-run\n", stderr);
    return 1;
  }
  // wx messages go to stderr: errors are shown in the window itself, and a display that fails to open must
  // give a message, not a dialog that cannot be shown.
  delete wxLog::SetActiveTarget(new wxLogStderr);
  wxApp::SetInstance(new digits::gui::App(opt));  // wxEntry uses this instance and deletes it at the end
  return wxEntry(argc, argv);
}
