// CudaBackend: the digits::Backend of one CUDA device. Host code only: an adapter expanded from the op
// table that makes its device and settings current and calls the digits::cuda ops (cuDNN, cuBLAS, our
// kernels) on the current stream.
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
  CudaBackend(int device, const cuda::Settings& settings) : device_(device), settings_(settings) {
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
    cuda::set_settings(settings_);
    const CudaDeviceInfo info = cuda_device_info(device_);
    name_ = "CUDA: " + info.name + " (sm_" + std::to_string(info.cc_major) + std::to_string(info.cc_minor) + ")";
    // Whether this device can run our kernels, cuDNN and cuBLAS is the start-up probe's question
    // (cuda/probe.h), asked once by select_backend before it constructs a backend.
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

 protected:
  // ---- ops: expanded from the op table (host/ops.h); each makes this backend's device and settings current
#define DIGITS_OP(name, params, args, check) \
  void do_##name params override {           \
    activate();                              \
    cuda::name args;                         \
  }
#include "ops.h"
#undef DIGITS_OP

 private:
  // Makes this backend's settings, and its device, current on the calling thread (the device only
  // matters with several: with one, device 0 is every thread's default).
  void activate() const {
    cuda::set_settings(settings_);
    if (!multi_) return;
    int cur = -1;
    CUDA_CHECK(cudaGetDevice(&cur));
    if (cur != device_) CUDA_CHECK(cudaSetDevice(device_));
  }

  int device_ = 0;
  cuda::Settings settings_;
  bool multi_ = false;
  std::string name_;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(int device, const BackendOptions& o) {
  cuda::Settings s;
  s.tf32 = o.tf32;
  s.deterministic = o.deterministic;
  s.algo = o.cudnn_heuristic ? cuda::AlgoChoice::Heuristic : cuda::AlgoChoice::Find;
  return std::make_unique<CudaBackend>(device, s);
}

}  // namespace digits
