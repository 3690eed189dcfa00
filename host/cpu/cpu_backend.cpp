// CpuBackend: the Backend over host memory, a thin adapter over the digits::cpu:: ops. Memory is
// 64-byte aligned (one cache line, one AVX-512 vector). Each op first applies this backend's thread
// count, since the count is process-wide and another CpuBackend may have set a different one.

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "backend.h"
#include "cpu/cpu_ops.h"
#include "error.h"

namespace digits {
namespace {

std::string isa_name() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "AVX-512";
  if (__builtin_cpu_supports("avx2")) return "AVX2";
  if (__builtin_cpu_supports("avx")) return "AVX";
  return "SSE2";
}

}  // namespace

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads) {
    cpu::set_num_threads(threads);
    threads_ = cpu::num_threads();
  }

  DeviceKind kind() const override { return DeviceKind::Cpu; }
  std::string name() const override {
    return "CPU (OpenBLAS, " + isa_name() + ", " + std::to_string(threads_) + (threads_ == 1 ? " thread)" : " threads)");
  }

  // ---- memory ----
  void* allocate(size_t bytes) override {
    const size_t rounded = std::max<size_t>(64, (bytes + 63) / 64 * 64);
    DIGITS_CHECK(rounded >= bytes, "CPU backend: cannot allocate " << bytes << " bytes");
    void* p = std::aligned_alloc(64, rounded);
    if (!p)
      DIGITS_FAIL("CPU backend: out of memory allocating " << bytes << " bytes (" << (bytes >> 20) << " MiB)");
    return p;
  }
  void deallocate(void* p) noexcept override { std::free(p); }
  void upload(void* dst, const void* host_src, size_t bytes) override { copy(dst, host_src, bytes); }
  void download(void* host_dst, const void* src, size_t bytes) override { copy(host_dst, src, bytes); }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memmove(dst, src, bytes);
  }
  void fill(float* p, size_t n, float value) override { std::fill_n(p, n, value); }

  // ---- ops ----
  void conv2d_forward(const ConvShape& s, const float* x, const float* w, float* y) override {
    use_threads();
    cpu::conv2d_forward(s, x, w, y);
  }
  void conv2d_backward_data(const ConvShape& s, const float* dy, const float* w, float* dx) override {
    use_threads();
    cpu::conv2d_backward_data(s, dy, w, dx);
  }
  void conv2d_backward_filter(const ConvShape& s, const float* x, const float* dy, float* dw) override {
    use_threads();
    cpu::conv2d_backward_filter(s, x, dy, dw);
  }
  void bias_forward(int N, int C, int HW, const float* b, float* y) override {
    use_threads();
    cpu::bias_forward(N, C, HW, b, y);
  }
  void bias_backward(int N, int C, int HW, const float* dy, float* db) override {
    use_threads();
    cpu::bias_backward(N, C, HW, dy, db);
  }
  void maxpool_forward(const PoolShape& s, const float* x, float* y, int32_t* argmax) override {
    use_threads();
    cpu::maxpool_forward(s, x, y, argmax);
  }
  void maxpool_backward(const PoolShape& s, const float* dy, const int32_t* argmax, float* dx) override {
    use_threads();
    cpu::maxpool_backward(s, dy, argmax, dx);
  }
  void dense_forward(const DenseShape& s, const float* x, const float* w, float* y) override {
    use_threads();
    cpu::dense_forward(s, x, w, y);
  }
  void dense_backward_data(const DenseShape& s, const float* dy, const float* w, float* dx) override {
    use_threads();
    cpu::dense_backward_data(s, dy, w, dx);
  }
  void dense_backward_weight(const DenseShape& s, const float* x, const float* dy, float* dw) override {
    use_threads();
    cpu::dense_backward_weight(s, x, dy, dw);
  }
  void relu_forward(size_t n, const float* x, float* y) override {
    use_threads();
    cpu::relu_forward(n, x, y);
  }
  void relu_backward(size_t n, const float* y, const float* dy, float* dx) override {
    use_threads();
    cpu::relu_backward(n, y, dy, dx);
  }
  void dropout_forward(size_t n, float rate, uint64_t seed, const float* x, float* y) override {
    use_threads();
    cpu::dropout_forward(n, rate, seed, x, y);
  }
  void dropout_backward(size_t n, float rate, uint64_t seed, const float* dy, float* dx) override {
    use_threads();
    cpu::dropout_backward(n, rate, seed, dy, dx);
  }
  void softmax_xent(int N, int K, const float* logits, const int32_t* labels, float* probs, float* loss,
                    float* dlogits, float scale) override {
    use_threads();
    cpu::softmax_xent(N, K, logits, labels, probs, loss, dlogits, scale);
  }
  void accumulate_stats(int N, int K, const float* probs, const int32_t* labels, const float* loss,
                        double* stats) override {
    cpu::accumulate_stats(N, K, probs, labels, loss, stats);
  }
  void gather_batch(int n, int pixels, const uint8_t* images, const uint8_t* labels, const int32_t* index,
                    float scale, float shift, float* x, int32_t* labels_out) override {
    use_threads();
    cpu::gather_batch(n, pixels, images, labels, index, scale, shift, x, labels_out);
  }
  void augment_batch(int n, int H, int W, const uint8_t* images, const uint8_t* labels, const int32_t* index,
                     const AugmentParams& a, uint64_t seed, float scale, float shift, float* x,
                     int32_t* labels_out) override {
    use_threads();
    cpu::augment_batch(n, H, W, images, labels, index, a, seed, scale, shift, x, labels_out);
  }
  void batchnorm_forward_train(int N, int C, int HW, float eps, float momentum, const float* x, const float* gamma,
                               const float* beta, float* y, float* batch_mean, float* batch_inv_std,
                               float* running_mean, float* running_var) override {
    use_threads();
    cpu::batchnorm_forward_train(N, C, HW, eps, momentum, x, gamma, beta, y, batch_mean, batch_inv_std, running_mean,
                                running_var);
  }
  void batchnorm_forward_infer(int N, int C, int HW, float eps, const float* x, const float* gamma, const float* beta,
                               const float* running_mean, const float* running_var, float* y) override {
    use_threads();
    cpu::batchnorm_forward_infer(N, C, HW, eps, x, gamma, beta, running_mean, running_var, y);
  }
  void batchnorm_backward(int N, int C, int HW, const float* x, const float* dy, const float* gamma,
                          const float* batch_mean, const float* batch_inv_std, float* dx, float* dgamma,
                          float* dbeta) override {
    use_threads();
    cpu::batchnorm_backward(N, C, HW, x, dy, gamma, batch_mean, batch_inv_std, dx, dgamma, dbeta);
  }
  void adadelta_update(size_t n, const AdadeltaParams& p, float* w, const float* g, float* accum_grad,
                       float* accum_delta) override {
    use_threads();
    cpu::adadelta_update(n, p, w, g, accum_grad, accum_delta);
  }
  void sgd_update(size_t n, const SgdParams& p, float* w, const float* g, float* velocity) override {
    use_threads();
    cpu::sgd_update(n, p, w, g, velocity);
  }
  void adam_update(size_t n, const AdamParams& p, float* w, const float* g, float* m, float* v) override {
    use_threads();
    cpu::adam_update(n, p, w, g, m, v);
  }

 private:
  void use_threads() const {
    if (cpu::num_threads() != threads_) cpu::set_num_threads(threads_);
  }
  int threads_ = 1;
};

std::unique_ptr<Backend> make_cpu_backend(int threads) {
  DIGITS_CHECK(threads >= 0, "CPU backend: " << threads << " threads (0 means all cores)");
  return std::make_unique<CpuBackend>(threads);
}

}  // namespace digits
