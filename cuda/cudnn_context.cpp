// Per-thread library state (see cudnn_context.h), the TF32 switch and the current stream.
#include "cudnn_context.h"


#include "cuda_ops.h"
#include "cuda_variants.h"

namespace digits::cuda {

// ---- settings ---------------------------------------------------------------------------------------------

namespace {

thread_local Settings t_settings;
thread_local Stream t_stream = nullptr;

// cuBLAS asks for 32 MiB of workspace on Hopper; given explicitly, so that no call allocates (CUDA graphs).
constexpr size_t kCublasWorkspace = size_t(32) << 20;

}  // namespace

void set_settings(const Settings& s) { t_settings = s; }
const Settings& settings() { return t_settings; }
void set_tf32(bool on) { t_settings.tf32 = on; }
bool tf32() { return t_settings.tf32; }

void set_current_stream(Stream s) { t_stream = s; }
Stream current_stream() { return t_stream; }

void synchronize() { CUDA_CHECK(cudaStreamSynchronize(current_stream())); }

namespace {
// Two events, destroyed on every path.
struct EventPair {
  cudaEvent_t start = nullptr, stop = nullptr;
  EventPair() {
    CUDA_CHECK(cudaEventCreate(&start));
    if (const cudaError_t e = cudaEventCreate(&stop); e != cudaSuccess) {
      cudaEventDestroy(start);
      CUDA_CHECK(e);
    }
  }
  ~EventPair() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
  EventPair(const EventPair&) = delete;
  EventPair& operator=(const EventPair&) = delete;
};
}  // namespace

double time_ms(const std::function<void()>& fn) {
  EventPair ev;
  CUDA_CHECK(cudaEventRecord(ev.start, current_stream()));
  fn();
  CUDA_CHECK(cudaEventRecord(ev.stop, current_stream()));
  CUDA_CHECK(cudaEventSynchronize(ev.stop));
  float ms = 0;
  CUDA_CHECK(cudaEventElapsedTime(&ms, ev.start, ev.stop));
  return ms;
}

// ---- plans ------------------------------------------------------------------------------------------------

ConvPlan::ConvPlan(const ConvShape& s, bool tf32_on) : shape(s), tf32(tf32_on) {
  x.set(s.N, s.C, s.H, s.W);
  y.set(s.N, s.K, s.P(), s.Q());
  w.set(s.K, s.C, s.R, s.S);
  conv.set(s.pad);
  conv.set_math(tf32_on ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH);
}

// ---- context ----------------------------------------------------------------------------------------------

CudaContext& CudaContext::current() {
  thread_local std::map<int, std::unique_ptr<CudaContext>> contexts;
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  auto& slot = contexts[device];
  if (!slot) slot.reset(new CudaContext(device));
  return *slot;
}

CudaContext::~CudaContext() {
  // Never throws: errors on teardown (e.g. the driver already unloading) are ignored.
  plans_.clear();
  if (cublas_) cublasDestroy(cublas_);
  if (cudnn_) cudnnDestroy(cudnn_);
  (void)cudaGetLastError();
}

cudnnHandle_t CudaContext::cudnn() {
  if (!cudnn_) {
    CUDNN_CHECK(cudnnCreate(&cudnn_));
    cudnn_stream_ = nullptr;
    CUDNN_CHECK(cudnnSetStream(cudnn_, nullptr));
  }
  const cudaStream_t s = current_stream();
  if (s != cudnn_stream_) {
    CUDNN_CHECK(cudnnSetStream(cudnn_, s));
    cudnn_stream_ = s;
  }
  return cudnn_;
}

cublasHandle_t CudaContext::cublas() {
  if (!cublas_) {
    CUBLAS_CHECK(cublasCreate(&cublas_));
    CUBLAS_CHECK(cublasSetPointerMode(cublas_, CUBLAS_POINTER_MODE_HOST));
    cublas_workspace_ = DeviceBuffer(kCublasWorkspace);
    cublas_stream_ = nullptr;
    CUBLAS_CHECK(cublasSetStream(cublas_, nullptr));
    CUBLAS_CHECK(cublasSetWorkspace(cublas_, cublas_workspace_.get(), cublas_workspace_.bytes()));
  }
  const cudaStream_t s = current_stream();
  if (s != cublas_stream_) {
    // cublasSetStream resets the workspace to the default pool: give ours back after it.
    CUBLAS_CHECK(cublasSetStream(cublas_, s));
    CUBLAS_CHECK(cublasSetWorkspace(cublas_, cublas_workspace_.get(), cublas_workspace_.bytes()));
    cublas_stream_ = s;
  }
  const int math = tf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH;
  if (math != cublas_math_) {
    CUBLAS_CHECK(cublasSetMathMode(cublas_, cublasMath_t(math)));
    cublas_math_ = math;
  }
  return cublas_;
}

ConvPlan& CudaContext::conv_plan(const ConvShape& s) {
  const Settings& st = settings();
  const bool t = st.tf32;
  // The plan's algorithms depend on every setting: a deterministic run never reuses a timed pick.
  const int how = (t ? 1 : 0) | (st.deterministic ? 2 : 0) | (st.algo == AlgoChoice::Heuristic ? 4 : 0);
  const std::array<int, 9> key{s.N, s.C, s.H, s.W, s.K, s.R, s.S, s.pad, how};
  auto& slot = plans_[key];
  if (!slot) slot = std::make_unique<ConvPlan>(s, t);
  return *slot;
}

void* CudaContext::workspace(size_t bytes) {
  if (bytes == 0) return nullptr;
  workspace_.reserve(bytes);
  return workspace_.get();
}

}  // namespace digits::cuda
