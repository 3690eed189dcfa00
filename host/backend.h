// The abstract Backend: memory, plus the ops of the op table (host/ops.h) as checked dispatch to one
// virtual per op. Layers, the model and the trainer talk only to Backend&; the reference, CPU and CUDA
// backends are adapters expanded from the same table over the digits::reference::, digits::cpu:: and
// digits::cuda:: functions. Pointers are in the backend's memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "error.h"
#include "op_checks.h"
#include "shapes.h"

namespace digits {

enum class DeviceKind { Cpu, Cuda };

class Backend {
 public:
  virtual ~Backend() = default;
  virtual DeviceKind kind() const = 0;
  // One line for logs and the GUI status bar, e.g. "CPU (AVX-512, 2 threads)" or "CUDA: NVIDIA H100".
  virtual std::string name() const = 0;

  // ---- memory: allocate throws digits::Error (naming the size) when memory runs out ----
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* p) noexcept = 0;
  virtual void upload(void* dst, const void* host_src, size_t bytes) = 0;
  virtual void download(void* host_dst, const void* src, size_t bytes) = 0;
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;
  virtual void fill(float* p, size_t n, float value) = 0;
  virtual void synchronize() {}

  // ---- ops: the table of host/ops.h. Each public op checks its precondition (host/op_checks.h), the
  // same for every backend, then calls the backend's implementation, the protected virtual do_<op>.
#define DIGITS_OP(name, params, args, check) \
  void name params {                         \
    check;                                   \
    do_##name args;                          \
  }
#include "ops.h"
#undef DIGITS_OP

 protected:
#define DIGITS_OP(name, params, args, check) virtual void do_##name params = 0;
#include "ops.h"
#undef DIGITS_OP
};

// A typed, move-only allocation in a backend's memory (RAII; never throws on release).
template <class T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(Backend& be, size_t n) : be_(&be), n_(n) {
    if (n_ > 0) p_ = static_cast<T*>(be.allocate(n_ * sizeof(T)));
  }
  ~Buffer() { reset(); }
  Buffer(Buffer&& o) noexcept : be_(o.be_), p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      reset();
      be_ = o.be_;
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void reset() noexcept {
    if (p_ && be_) be_->deallocate(p_);
    p_ = nullptr;
    n_ = 0;
  }
  T* data() { return p_; }
  const T* data() const { return p_; }
  size_t size() const { return n_; }
  Backend* backend() const { return be_; }

  void upload(const T* host, size_t count) {
    DIGITS_CHECK(count <= n_, "upload of " << count << " elements into a buffer of " << n_);
    if (count) be_->upload(p_, host, count * sizeof(T));
  }
  void upload(const std::vector<T>& host) { upload(host.data(), host.size()); }
  std::vector<T> download() const {
    std::vector<T> h(n_);
    if (n_) be_->download(h.data(), p_, n_ * sizeof(T));
    return h;
  }

 private:
  Backend* be_ = nullptr;
  T* p_ = nullptr;
  size_t n_ = 0;
};

// ---- selection (host/backend_select.cpp: the only place that knows whether CUDA was compiled in) ----
enum class DevicePref { Auto, Cpu, Cuda };
DevicePref parse_device_pref(const std::string& s);  // "auto" | "cpu" | "cuda"; throws on anything else

// What the program asks of its backend, passed as a value from the command line or the window down to
// the backend (never through the environment; from_env() reads the environment's defaults at the edge).
struct BackendOptions {
  DevicePref device = DevicePref::Auto;
  int threads = 0;               // CPU threads (0 = all cores)
  bool deterministic = false;    // CUDA: deterministic cuDNN algorithms, chosen by heuristics (never timing)
  bool tf32 = false;             // CUDA: TF32 tensor-core math (faster, ~1e-3 relative error)
  bool cudnn_heuristic = false;  // CUDA: choose cuDNN algorithms by heuristics instead of timing them
  // Fault injection (tests; the CLI maps DIGITS_FAULT_INJECT to it): the CUDA start-up step of this name
  // fails as it would for real: driver | device_count | kernel | cudnn | cudnn_conv | cublas | cublas_gemm
  // (cuda/probe.h), or backend (the backend's construction after a passed probe). Empty: none.
  std::string fail_probe_step = {};
  // DIGITS_DEVICE (auto|cpu|cuda), DIGITS_TF32=1 and DIGITS_CUDNN_ALGO=heuristic over the defaults above.
  static BackendOptions from_env();
};

struct BackendChoice {
  std::unique_ptr<Backend> backend;
  std::string reason;  // one line: which backend and why, e.g. "auto: CUDA unusable: no CUDA device found (...); using CPU (...)"
};
// CUDA is chosen only after its start-up probe passes (cuda/probe.h: driver, device, our kernel, cuDNN and
// a convolution, cuBLAS and a GEMM) and the backend starts. Any failure: Auto falls back to the CPU and
// says why in `reason` (one line); an explicit Cuda throws digits::Error with that line.
BackendChoice select_backend(const BackendOptions& options);

bool cuda_compiled();
// Text for `digits info`: build options, CUDA runtime/driver, devices, cuDNN and cuBLAS versions.
std::vector<std::pair<std::string, std::string>> backend_info();

std::unique_ptr<Backend> make_cpu_backend(int threads = 0);

}  // namespace digits
