// The abstract Backend: memory plus one virtual per op of host/ops.h, forward and backward.
// Layers, the model and the trainer talk only to Backend&; CpuBackend and CudaBackend are thin
// adapters over digits::cpu:: and digits::cuda:: functions. Pointers are in the backend's memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "error.h"
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

  // ---- ops: see host/ops.h for shapes and semantics ----
  virtual void conv2d_forward(const ConvShape& s, const float* x, const float* w, float* y) = 0;
  virtual void conv2d_backward_data(const ConvShape& s, const float* dy, const float* w, float* dx) = 0;
  virtual void conv2d_backward_filter(const ConvShape& s, const float* x, const float* dy, float* dw) = 0;
  virtual void bias_forward(int N, int C, int HW, const float* b, float* y) = 0;
  virtual void bias_backward(int N, int C, int HW, const float* dy, float* db) = 0;
  virtual void maxpool_forward(const PoolShape& s, const float* x, float* y, int32_t* argmax) = 0;
  virtual void maxpool_backward(const PoolShape& s, const float* dy, const int32_t* argmax, float* dx) = 0;
  virtual void dense_forward(const DenseShape& s, const float* x, const float* w, float* y) = 0;
  virtual void dense_backward_data(const DenseShape& s, const float* dy, const float* w, float* dx) = 0;
  virtual void dense_backward_weight(const DenseShape& s, const float* x, const float* dy, float* dw) = 0;
  virtual void relu_forward(size_t n, const float* x, float* y) = 0;
  virtual void relu_backward(size_t n, const float* y, const float* dy, float* dx) = 0;
  virtual void dropout_forward(size_t n, float rate, uint64_t seed, const float* x, float* y) = 0;
  virtual void dropout_backward(size_t n, float rate, uint64_t seed, const float* dy, float* dx) = 0;
  virtual void softmax_xent(int N, int K, const float* logits, const int32_t* labels, float* probs, float* loss,
                            float* dlogits, float scale) = 0;
  virtual void accumulate_stats(int N, int K, const float* probs, const int32_t* labels, const float* loss,
                                double* stats) = 0;
  virtual void gather_batch(int n, int pixels, const uint8_t* images, const uint8_t* labels, const int32_t* index,
                            float scale, float shift, float* x, int32_t* labels_out) = 0;
  virtual void augment_batch(int n, int H, int W, const uint8_t* images, const uint8_t* labels, const int32_t* index,
                             const AugmentParams& a, uint64_t seed, float scale, float shift, float* x,
                             int32_t* labels_out) = 0;
  virtual void batchnorm_forward_train(int N, int C, int HW, float eps, float momentum, const float* x,
                                       const float* gamma, const float* beta, float* y, float* batch_mean,
                                       float* batch_inv_std, float* running_mean, float* running_var) = 0;
  virtual void batchnorm_forward_infer(int N, int C, int HW, float eps, const float* x, const float* gamma,
                                       const float* beta, const float* running_mean, const float* running_var,
                                       float* y) = 0;
  virtual void batchnorm_backward(int N, int C, int HW, const float* x, const float* dy, const float* gamma,
                                  const float* batch_mean, const float* batch_inv_std, float* dx, float* dgamma,
                                  float* dbeta) = 0;
  virtual void adadelta_update(size_t n, const AdadeltaParams& p, float* w, const float* g, float* accum_grad,
                               float* accum_delta) = 0;
  virtual void sgd_update(size_t n, const SgdParams& p, float* w, const float* g, float* velocity) = 0;
  virtual void adam_update(size_t n, const AdamParams& p, float* w, const float* g, float* m, float* v) = 0;
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

struct BackendChoice {
  std::unique_ptr<Backend> backend;
  std::string reason;  // one line: which backend and why, e.g. "auto: no CUDA device found, using CPU"
};
// pref: from --device, or DIGITS_DEVICE when the flag was not given. threads: CPU threads (0 = all).
// An explicit Cuda without a usable device throws digits::Error; Auto falls back to the CPU.
BackendChoice select_backend(DevicePref pref, int threads = 0);

bool cuda_compiled();
// Text for `digits info`: build options, CUDA runtime/driver, devices, cuDNN and cuBLAS versions.
std::vector<std::pair<std::string, std::string>> backend_info();

std::unique_ptr<Backend> make_cpu_backend(int threads = 0);

}  // namespace digits
