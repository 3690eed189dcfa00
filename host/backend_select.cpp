// Backend selection: the ONLY file that knows whether the CUDA backend was compiled in
// (DIGITS_WITH_CUDA is a private definition of digits_backends). Everything else decides at run time.
// Also the CUDA tools of the kernel report (cuda_tools.h), for the same reason.
#include <algorithm>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backend.h"
#include "cuda_tools.h"
#include "error.h"

#if DIGITS_WITH_CUDA
#include "cuda_backend.h"
#include "cuda_variants.h"
#include "device_info.h"
#include "probe.h"
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

#if DIGITS_WITH_CUDA
namespace {

// The CUDA backend on device 0 once its start-up probe has passed and it has started, else null with the
// one-line reason in `why`.
std::unique_ptr<Backend> start_cuda(const BackendOptions& options, std::string& why) {
  const std::string& fault = options.fail_probe_step;
  const bool known = fault.empty() || fault == "backend" ||
                     std::find(kCudaProbeSteps.begin(), kCudaProbeSteps.end(), fault) != kCudaProbeSteps.end();
  DIGITS_CHECK(known, "unknown fault injection step '" << fault << "'");
  const CudaProbeResult probe = cuda_probe(CudaProbeOptions{0, fault});
  if (!probe.ok) {
    why = probe.reason;
    return nullptr;
  }
  try {
    if (fault == "backend") DIGITS_FAIL("simulated start-up failure [fault injected: backend]");
    return make_cuda_backend(0, options);
  } catch (const std::exception& e) {
    why = std::string("the CUDA backend failed to start: ") + e.what();
    return nullptr;
  }
}

}  // namespace
#endif

BackendChoice select_backend(const BackendOptions& options) {
  BackendChoice choice;
  if (options.device == DevicePref::Cpu) {
    choice.backend = make_cpu_backend(options.threads);
    choice.reason = "device cpu: " + choice.backend->name();
    return choice;
  }
  const char* prefix = options.device == DevicePref::Auto ? "auto: " : "device cuda: ";
  std::string why;
#if DIGITS_WITH_CUDA
  if (std::unique_ptr<Backend> cuda = start_cuda(options, why)) {
    choice.backend = std::move(cuda);
    choice.reason = prefix + choice.backend->name();
    return choice;
  }
#else
  why = "CUDA backend not built (nvcc/cuDNN were not found at configure time; rebuild with the CUDA toolkit)";
#endif
  // One line either way: the explicit request fails with it, auto says it and runs on the CPU.
  if (options.device == DevicePref::Cuda) DIGITS_FAIL("--device cuda: " << why << "; use --device cpu or auto");
  choice.backend = make_cpu_backend(options.threads);
  choice.reason = prefix + why + "; using " + choice.backend->name();
  return choice;
}

#if DIGITS_WITH_CUDA
namespace {

void conv_direct(const std::string& op, const ConvShape& s, const float* a, const float* b, float* c) {
  if (op == "conv2d_forward") return cuda::conv2d_forward_direct(s, a, b, c);
  if (op == "conv2d_backward_data") return cuda::conv2d_backward_data_direct(s, a, b, c);
  if (op == "conv2d_backward_filter") return cuda::conv2d_backward_filter_direct(s, a, b, c);
  DIGITS_FAIL("conv_direct: '" << op << "' is not a convolution");
}

std::vector<std::pair<std::string, double>> cudnn_algorithms(const std::string& op, const ConvShape& s, const float* a,
                                                             const float* b, float* c) {
  std::vector<std::pair<std::string, double>> r;
  for (const cuda::ConvAlgoTiming& t : cuda::conv_algo_timings(op, s, a, b, c)) r.emplace_back(t.algo, t.ms);
  return r;
}

}  // namespace
#endif

std::unique_ptr<CudaTools> cuda_tools(std::string& why) {
#if DIGITS_WITH_CUDA
  std::unique_ptr<Backend> be = start_cuda(BackendOptions{}, why);
  if (!be) return nullptr;
  auto t = std::make_unique<CudaTools>();
  t->backend = std::move(be);
  const CudaDeviceInfo info = cuda_device_info(0);
  t->device = info.name + " (sm_" + std::to_string(info.cc_major) + std::to_string(info.cc_minor) + ")";
  t->time_ms = [](const std::function<void()>& fn) { return cuda::time_ms(fn); };
  t->peak_fma_gflops = [] { return cuda::peak_fma_gflops(); };
  t->peak_copy_gbs = [] { return cuda::peak_copy_gbs(); };
  t->conv_direct = conv_direct;
  t->cudnn_algorithms = cudnn_algorithms;
  return t;
#else
  why = "CUDA backend not built (configured without it, or nvcc/cuDNN were not found)";
  return nullptr;
#endif
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
