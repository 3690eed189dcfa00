// Backend selection: the ONLY file that knows whether the CUDA backend was compiled in
// (DIGITS_WITH_CUDA is a private definition of digits_backends). Everything else decides at run time.
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "backend.h"
#include "error.h"

#if DIGITS_WITH_CUDA
#include "cuda_backend.h"
#endif

namespace digits {

DevicePref parse_device_pref(const std::string& s) {
  if (s == "auto" || s.empty()) return DevicePref::Auto;
  if (s == "cpu") return DevicePref::Cpu;
  if (s == "cuda" || s == "gpu") return DevicePref::Cuda;
  DIGITS_FAIL("unknown device '" << s << "': use auto, cpu or cuda");
}

bool cuda_compiled() {
#if DIGITS_WITH_CUDA
  return true;
#else
  return false;
#endif
}

BackendOptions BackendOptions::from_env() {
  BackendOptions o;
  if (const char* v = std::getenv("DIGITS_DEVICE"); v && *v) o.device = parse_device_pref(v);
  if (const char* v = std::getenv("DIGITS_TF32"); v && *v && std::string(v) != "0") o.tf32 = true;
  if (const char* v = std::getenv("DIGITS_CUDNN_ALGO"); v && std::string(v) == "heuristic") o.cudnn_heuristic = true;
  return o;
}

BackendChoice select_backend(const BackendOptions& options) {
  const DevicePref pref = options.device;
  const int threads = options.threads;
  BackendChoice choice;
  if (pref == DevicePref::Cpu) {
    choice.backend = make_cpu_backend(threads);
    choice.reason = "device cpu: " + choice.backend->name();
    return choice;
  }
#if DIGITS_WITH_CUDA
  const int devices = cuda_device_count();
  if (devices > 0) {
    choice.backend = make_cuda_backend(0, options);
    choice.reason = std::string(pref == DevicePref::Auto ? "auto: " : "device cuda: ") + choice.backend->name();
    return choice;
  }
  if (pref == DevicePref::Cuda)
    DIGITS_FAIL("--device cuda: no CUDA device found (no NVIDIA driver or no GPU); use --device cpu or auto");
  choice.backend = make_cpu_backend(threads);
  choice.reason = "auto: no CUDA device found, using " + choice.backend->name();
#else
  if (pref == DevicePref::Cuda)
    DIGITS_FAIL("--device cuda: this build has no CUDA backend (nvcc/cuDNN were not found at configure time); "
                "use --device cpu or rebuild with the CUDA toolkit");
  choice.backend = make_cpu_backend(threads);
  choice.reason = "auto: CUDA backend not built, using " + choice.backend->name();
#endif
  return choice;
}

std::vector<std::pair<std::string, std::string>> backend_info() {
  std::vector<std::pair<std::string, std::string>> info;
  info.emplace_back("cuda backend", cuda_compiled() ? "built" : "not built");
#if DIGITS_WITH_CUDA
  for (auto& kv : cuda_info()) info.push_back(std::move(kv));
#endif
  return info;
}

}  // namespace digits
