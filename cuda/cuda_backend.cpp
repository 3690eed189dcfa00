// CudaBackend: the digits::Backend of one CUDA device. Host code only: a thin adapter that makes its
// device current and calls the digits::cuda ops (cuDNN, cuBLAS, our kernels) on the current stream.
#include "cuda_backend.h"

#include <sstream>

#include "cuda_ops.h"
#include "cudnn_context.h"
#include "device_buffer.h"
#include "device_info.h"

namespace digits {

namespace {

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {
    const int count = cuda_device_count();
    if (count == 0) {
      std::ostringstream os;
      os << "no CUDA device (cudaGetDeviceCount: " << cuda_probe_status()
         << "): is an NVIDIA GPU present and its driver installed (nvidia-smi)? Use --device cpu or auto";
      throw CudaError(os.str());
    }
    if (device < 0 || device >= count) {
      std::ostringstream os;
      os << "CUDA device " << device << " does not exist: this machine has " << count
         << (count == 1 ? " device (0)" : " devices (0.." + std::to_string(count - 1) + ")");
      throw CudaError(os.str());
    }
    multi_ = count > 1;
    CUDA_CHECK(cudaSetDevice(device_));
    const CudaDeviceInfo info = cuda_device_info(device_);
    name_ = "CUDA: " + info.name + " (sm_" + std::to_string(info.cc_major) + std::to_string(info.cc_minor) + ")";
    // Start the context now, so that a device that cannot run our code fails here with a clear message
    // (no kernel image for its architecture, exclusive mode, out of memory) rather than mid-training.
    CUDA_CHECK(cudaFree(nullptr));
    cuda::DeviceBuffer probe(sizeof(float));
    cuda::fill(static_cast<float*>(probe.get()), 1, 1.0f);
    cuda::synchronize();
    // cuDNN loads its kernels on cudnnCreate: a broken or mismatched libcudnn shows up here too.
    (void)cuda::CudaContext::current().cudnn();
  }

  DeviceKind kind() const override { return DeviceKind::Cuda; }
  std::string name() const override { return name_; }

  // ---- memory ----
  void* allocate(size_t bytes) override {
    activate();
    return cuda::cuda_malloc(bytes);
  }
  void deallocate(void* p) noexcept override {
    if (!p) return;
    if (multi_) {
      int cur = -1;
      if (cudaGetDevice(&cur) == cudaSuccess && cur != device_) (void)cudaSetDevice(device_);
    }
    cuda::cuda_free(p);
  }
  // Synchronous: on return the host buffer may be reused (also when it is pinned memory).
  void upload(void* dst, const void* host_src, size_t bytes) override {
    if (bytes == 0) return;
    activate();
    CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, cuda::current_stream()));
    CUDA_CHECK(cudaStreamSynchronize(cuda::current_stream()));
  }
  // Waits for the work queued on the current stream before it, then for the copy.
  void download(void* host_dst, const void* src, size_t bytes) override {
    if (bytes == 0) return;
    activate();
    CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, cuda::current_stream()));
    CUDA_CHECK(cudaStreamSynchronize(cuda::current_stream()));
  }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes == 0) return;
    activate();
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda::current_stream()));
    DIGITS_CUDA_AFTER_OP("copy");
  }
  void fill(float* p, size_t n, float value) override {
    activate();
    cuda::fill(p, n, value);
  }
  void synchronize() override {
    activate();
    cuda::synchronize();
  }

  // ---- ops ----
  void conv2d_forward(const ConvShape& s, const float* x, const float* w, float* y) override {
    activate();
    cuda::conv2d_forward(s, x, w, y);
  }
  void conv2d_backward_data(const ConvShape& s, const float* dy, const float* w, float* dx) override {
    activate();
    cuda::conv2d_backward_data(s, dy, w, dx);
  }
  void conv2d_backward_filter(const ConvShape& s, const float* x, const float* dy, float* dw) override {
    activate();
    cuda::conv2d_backward_filter(s, x, dy, dw);
  }
  void bias_forward(int N, int C, int HW, const float* b, float* y) override {
    activate();
    cuda::bias_forward(N, C, HW, b, y);
  }
  void bias_backward(int N, int C, int HW, const float* dy, float* db) override {
    activate();
    cuda::bias_backward(N, C, HW, dy, db);
  }
  void maxpool_forward(const PoolShape& s, const float* x, float* y, int32_t* argmax) override {
    activate();
    cuda::maxpool_forward(s, x, y, argmax);
  }
  void maxpool_backward(const PoolShape& s, const float* dy, const int32_t* argmax, float* dx) override {
    activate();
    cuda::maxpool_backward(s, dy, argmax, dx);
  }
  void dense_forward(const DenseShape& s, const float* x, const float* w, float* y) override {
    activate();
    cuda::dense_forward(s, x, w, y);
  }
  void dense_backward_data(const DenseShape& s, const float* dy, const float* w, float* dx) override {
    activate();
    cuda::dense_backward_data(s, dy, w, dx);
  }
  void dense_backward_weight(const DenseShape& s, const float* x, const float* dy, float* dw) override {
    activate();
    cuda::dense_backward_weight(s, x, dy, dw);
  }
  void relu_forward(size_t n, const float* x, float* y) override {
    activate();
    cuda::relu_forward(n, x, y);
  }
  void relu_backward(size_t n, const float* y, const float* dy, float* dx) override {
    activate();
    cuda::relu_backward(n, y, dy, dx);
  }
  void dropout_forward(size_t n, float rate, uint64_t seed, const float* x, float* y) override {
    activate();
    cuda::dropout_forward(n, rate, seed, x, y);
  }
  void dropout_backward(size_t n, float rate, uint64_t seed, const float* dy, float* dx) override {
    activate();
    cuda::dropout_backward(n, rate, seed, dy, dx);
  }
  void softmax_xent(int N, int K, const float* logits, const int32_t* labels, float* probs, float* loss, float* dlogits,
                    float scale) override {
    activate();
    cuda::softmax_xent(N, K, logits, labels, probs, loss, dlogits, scale);
  }
  void accumulate_stats(int N, int K, const float* probs, const int32_t* labels, const float* loss,
                        double* stats) override {
    activate();
    cuda::accumulate_stats(N, K, probs, labels, loss, stats);
  }
  void gather_batch(int n, int pixels, const uint8_t* images, const uint8_t* labels, const int32_t* index, float scale,
                    float shift, float* x, int32_t* labels_out) override {
    activate();
    cuda::gather_batch(n, pixels, images, labels, index, scale, shift, x, labels_out);
  }
  void augment_batch(int n, int H, int W, const uint8_t* images, const uint8_t* labels, const int32_t* index,
                     const AugmentParams& a, uint64_t seed, float scale, float shift, float* x,
                     int32_t* labels_out) override {
    activate();
    cuda::augment_batch(n, H, W, images, labels, index, a, seed, scale, shift, x, labels_out);
  }
  void batchnorm_forward_train(int N, int C, int HW, float eps, float momentum, const float* x, const float* gamma,
                               const float* beta, float* y, float* batch_mean, float* batch_inv_std,
                               float* running_mean, float* running_var) override {
    activate();
    cuda::batchnorm_forward_train(N, C, HW, eps, momentum, x, gamma, beta, y, batch_mean, batch_inv_std, running_mean,
                                running_var);
  }
  void batchnorm_forward_infer(int N, int C, int HW, float eps, const float* x, const float* gamma, const float* beta,
                               const float* running_mean, const float* running_var, float* y) override {
    activate();
    cuda::batchnorm_forward_infer(N, C, HW, eps, x, gamma, beta, running_mean, running_var, y);
  }
  void batchnorm_backward(int N, int C, int HW, const float* x, const float* dy, const float* gamma,
                          const float* batch_mean, const float* batch_inv_std, float* dx, float* dgamma,
                          float* dbeta) override {
    activate();
    cuda::batchnorm_backward(N, C, HW, x, dy, gamma, batch_mean, batch_inv_std, dx, dgamma, dbeta);
  }
  void adadelta_update(size_t n, const AdadeltaParams& p, float* w, const float* g, float* accum_grad,
                       float* accum_delta) override {
    activate();
    cuda::adadelta_update(n, p, w, g, accum_grad, accum_delta);
  }
  void sgd_update(size_t n, const SgdParams& p, float* w, const float* g, float* velocity) override {
    activate();
    cuda::sgd_update(n, p, w, g, velocity);
  }
  void adam_update(size_t n, const AdamParams& p, float* w, const float* g, float* m, float* v) override {
    activate();
    cuda::adam_update(n, p, w, g, m, v);
  }

 private:
  // Makes this backend's device current on the calling thread (only needed with several devices:
  // with one, device 0 is every thread's default).
  void activate() const {
    if (!multi_) return;
    int cur = -1;
    CUDA_CHECK(cudaGetDevice(&cur));
    if (cur != device_) CUDA_CHECK(cudaSetDevice(device_));
  }

  int device_ = 0;
  bool multi_ = false;
  std::string name_;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(int device) { return std::make_unique<CudaBackend>(device); }

}  // namespace digits
