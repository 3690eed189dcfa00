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

BackendChoice select_backend(DevicePref pref, int threads) {
  BackendChoice choice;
  if (pref == DevicePref::Cpu) {
    choice.backend = make_cpu_backend(threads);
    choice.reason = "device cpu: " + choice.backend->name();
    return choice;
  }
#if DIGITS_WITH_CUDA
  const int devices = cuda_device_count();
  if (devices > 0) {
    choice.backend = make_cuda_backend(0);
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
