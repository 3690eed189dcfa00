// Convolutions through cuDNN (forward, backward data, backward filter) and cuDNN's max pooling (a
// benchmark variant). Each direction's algorithm is chosen once per (shape, settings) and cached in the
// thread's CudaContext: by default cudnnFind*AlgorithmEx times every algorithm on the real buffers;
// Settings::algo Heuristic, and Settings::deterministic, use cudnnGet*Algorithm_v7 instead (no timing
// runs: the same pick every run), the latter keeping only algorithms cuDNN reports as deterministic.
// With TF32 off, descriptors use CUDNN_FMA_MATH: float32 FMA kernels only, never tensor-core TF32.
#include <sstream>

#include "cuda_ops.h"
#include "cuda_variants.h"
#include "cudnn_context.h"

namespace digits::cuda {

namespace {

// ---- algorithm choice -----------------------------------------------------------------------------------

// Timing decides nothing in deterministic mode: heuristics rank the same way on every run.
bool use_heuristics() { return settings().algo == AlgoChoice::Heuristic || settings().deterministic; }

// Find*Ex times algorithms that fit in this much workspace; the largest users here need a few MiB.
constexpr size_t kMaxFindWorkspace = size_t(512) << 20;
// Heuristic picks that want more than this are passed over.
constexpr size_t kMaxHeuristicWorkspace = size_t(1) << 30;

// Scratch for Find*Ex, as large as allowed and available (half the free memory at most).
DeviceBuffer find_workspace() {
  size_t free_bytes = 0, total_bytes = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  size_t bytes = std::min(kMaxFindWorkspace, free_bytes / 2);
  while (bytes >= (size_t(1) << 20)) {
    try {
      return DeviceBuffer(bytes);
    } catch (const CudaError&) {
      bytes /= 4;
    }
  }
  return DeviceBuffer();
}

// What the search may use: FMA only with TF32 off; with it on, the default (TF32 tensor cores allowed).
cudnnMathType_t base_math(const ConvPlan& p) { return p.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH; }

bool is_tensor_op(cudnnMathType_t m) {
  return m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// `digits train --deterministic`: only algorithms cuDNN reports as deterministic (some backward-filter and
// backward-data algorithms sum with atomics, in a run-dependent order).
bool deterministic_mode() { return settings().deterministic; }

// The first (fastest) usable result. With TF32 off, tensor-core results are skipped and FMA math is used.
template <class Perf>
ConvAlgo pick(const Perf* perf, int count, bool tf32_on, size_t max_workspace, const char* how, const char* what) {
  for (int i = 0; i < count; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > max_workspace) continue;
    if (!tf32_on && is_tensor_op(perf[i].mathType)) continue;
    if (deterministic_mode() && perf[i].determinism != CUDNN_DETERMINISTIC) continue;
    ConvAlgo a;
    a.chosen = true;
    a.algo = int(perf[i].algo);
    a.math = tf32_on ? perf[i].mathType : CUDNN_FMA_MATH;
    a.workspace = perf[i].memory;
    a.how = how;
    return a;
  }
  std::ostringstream os;
  os << "cuDNN has no usable " << what << " algorithm for this convolution (" << count << " candidates, "
     << (tf32_on ? "TF32 on" : "TF32 off") << (deterministic_mode() ? ", deterministic only" : "") << ")";
  throw CudaError(os.str());
}

void choose_forward(CudaContext& ctx, ConvPlan& p, const float* x, const float* w, float* y) {
  p.conv.set_math(base_math(p));  // not the math type another direction picked
  cudnnHandle_t h = ctx.cudnn();
  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int n = 0;
  if (use_heuristics()) {
    CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, p.x, p.w, p.conv, p.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf));
    p.forward = pick(perf, n, p.tf32, kMaxHeuristicWorkspace, "heuristic", "forward");
  } else {
    DeviceBuffer ws = find_workspace();
    CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(h, p.x, x, p.w, w, p.conv, p.y, y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                       &n, perf, ws.get(), ws.bytes()));
    p.forward = pick(perf, n, p.tf32, ws.bytes(), "find", "forward");
  }
}

void choose_backward_data(CudaContext& ctx, ConvPlan& p, const float* dy, const float* w, float* dx) {
  p.conv.set_math(base_math(p));  // not the math type another direction picked
  cudnnHandle_t h = ctx.cudnn();
  cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
  int n = 0;
  if (use_heuristics()) {
    CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w, p.y, p.conv, p.x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                            &n, perf));
    p.backward_data = pick(perf, n, p.tf32, kMaxHeuristicWorkspace, "heuristic", "backward-data");
  } else {
    DeviceBuffer ws = find_workspace();
    CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(h, p.w, w, p.y, dy, p.conv, p.x, dx,
                                                            CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, perf, ws.get(),
                                                            ws.bytes()));
    p.backward_data = pick(perf, n, p.tf32, ws.bytes(), "find", "backward-data");
  }
}

void choose_backward_filter(CudaContext& ctx, ConvPlan& p, const float* x, const float* dy, float* dw) {
  p.conv.set_math(base_math(p));  // not the math type another direction picked
  cudnnHandle_t h = ctx.cudnn();
  cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
  int n = 0;
  if (use_heuristics()) {
    CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x, p.y, p.conv, p.w,
                                                              CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, perf));
    p.backward_filter = pick(perf, n, p.tf32, kMaxHeuristicWorkspace, "heuristic", "backward-filter");
  } else {
    DeviceBuffer ws = find_workspace();
    CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(h, p.x, x, p.y, dy, p.conv, p.w, dw,
                                                              CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, perf, ws.get(),
                                                              ws.bytes()));
    p.backward_filter = pick(perf, n, p.tf32, ws.bytes(), "find", "backward-filter");
  }
}

// clang-format off
const char* const kFwdNames[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT", "FFT_TILING",
                                 "WINOGRAD", "WINOGRAD_NONFUSED"};
const char* const kBwdDataNames[] = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
const char* const kBwdFilterNames[] = {"ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD", "WINOGRAD_NONFUSED",
                                       "FFT_TILING"};
// clang-format on

template <size_t M>
std::string describe(const ConvAlgo& a, const char* const (&names)[M]) {
  if (!a.chosen) return "";
  std::ostringstream os;
  os << (a.algo >= 0 && size_t(a.algo) < M ? names[a.algo] : "?") << ", "
     << (a.math == CUDNN_FMA_MATH ? "FMA" : a.math == CUDNN_DEFAULT_MATH ? "default math" : "tensor ops") << ", "
     << a.workspace << " B workspace (" << a.how << ")";
  return os.str();
}

const float kOne = 1.0f, kZero = 0.0f;

}  // namespace

// ---- convolutions ---------------------------------------------------------------------------------------

void conv2d_forward(const ConvShape& s, const float* x, const float* w, float* y) {
  if (s.out_size() == 0) return;
  CudaContext& ctx = CudaContext::current();
  ConvPlan& p = ctx.conv_plan(s);
  if (!p.forward.chosen) choose_forward(ctx, p, x, w, y);
  p.conv.set_math(p.forward.math);
  void* ws = ctx.workspace(p.forward.workspace);
  // beta = 0: y is not read, so whatever it held (NaN included) does not leak in.
  CUDNN_CHECK(cudnnConvolutionForward(ctx.cudnn(), &kOne, p.x, x, p.w, w, p.conv,
                                      cudnnConvolutionFwdAlgo_t(p.forward.algo), ws, p.forward.workspace, &kZero, p.y, y));
  DIGITS_CUDA_AFTER_LIBRARY_OP("conv2d_forward");
}

void conv2d_backward_data(const ConvShape& s, const float* dy, const float* w, float* dx) {
  if (s.in_size() == 0) return;
  CudaContext& ctx = CudaContext::current();
  ConvPlan& p = ctx.conv_plan(s);
  if (!p.backward_data.chosen) choose_backward_data(ctx, p, dy, w, dx);
  p.conv.set_math(p.backward_data.math);
  void* ws = ctx.workspace(p.backward_data.workspace);
  CUDNN_CHECK(cudnnConvolutionBackwardData(ctx.cudnn(), &kOne, p.w, w, p.y, dy, p.conv,
                                           cudnnConvolutionBwdDataAlgo_t(p.backward_data.algo), ws,
                                           p.backward_data.workspace, &kZero, p.x, dx));
  DIGITS_CUDA_AFTER_LIBRARY_OP("conv2d_backward_data");
}

void conv2d_backward_filter(const ConvShape& s, const float* x, const float* dy, float* dw) {
  if (s.weight_size() == 0) return;
  CudaContext& ctx = CudaContext::current();
  ConvPlan& p = ctx.conv_plan(s);
  if (!p.backward_filter.chosen) choose_backward_filter(ctx, p, x, dy, dw);
  p.conv.set_math(p.backward_filter.math);
  void* ws = ctx.workspace(p.backward_filter.workspace);
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(ctx.cudnn(), &kOne, p.x, x, p.y, dy, p.conv,
                                             cudnnConvolutionBwdFilterAlgo_t(p.backward_filter.algo), ws,
                                             p.backward_filter.workspace, &kZero, p.w, dw));
  DIGITS_CUDA_AFTER_LIBRARY_OP("conv2d_backward_filter");
}

ConvAlgoNames conv_algo_names(const ConvShape& s) {
  const ConvPlan& p = CudaContext::current().conv_plan(s);
  return ConvAlgoNames{describe(p.forward, kFwdNames), describe(p.backward_data, kBwdDataNames),
                       describe(p.backward_filter, kBwdFilterNames)};
}

// ---- cuDNN max pooling (benchmark variant) --------------------------------------------------------------

void maxpool_forward_cudnn(const PoolShape& s, const float* x, float* y) {
  if (s.out_size() == 0) return;
  CudaContext& ctx = CudaContext::current();
  TensorDesc xd, yd;
  xd.set(s.N, s.C, s.H, s.W);
  yd.set(s.N, s.C, s.P(), s.Q());
  PoolDesc pd;
  pd.set_max(s.size);
  CUDNN_CHECK(cudnnPoolingForward(ctx.cudnn(), pd, &kOne, xd, x, &kZero, yd, y));
  DIGITS_CUDA_AFTER_LIBRARY_OP("maxpool_forward_cudnn");
}

void maxpool_backward_cudnn(const PoolShape& s, const float* x, const float* y, const float* dy, float* dx) {
  if (s.in_size() == 0) return;
  CudaContext& ctx = CudaContext::current();
  if (s.out_size() == 0) {
    CUDA_CHECK(cudaMemsetAsync(dx, 0, s.in_size() * sizeof(float), current_stream()));
    return;
  }
  TensorDesc xd, yd;
  xd.set(s.N, s.C, s.H, s.W);
  yd.set(s.N, s.C, s.P(), s.Q());
  PoolDesc pd;
  pd.set_max(s.size);
  CUDNN_CHECK(cudnnPoolingBackward(ctx.cudnn(), pd, &kOne, yd, y, yd, dy, xd, x, &kZero, xd, dx));
  DIGITS_CUDA_AFTER_LIBRARY_OP("maxpool_backward_cudnn");
}

}  // namespace digits::cuda
