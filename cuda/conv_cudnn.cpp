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

const float kOne = 1.0f, kZero = 0.0f;

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

// ---- the three directions -------------------------------------------------------------------------------
// What differs between forward, backward data and backward filter: cuDNN's types and calls, which plan slot
// holds the choice, and the operands (a, b: the inputs, c: the output, in the op's argument order).
struct Forward {
  using Perf = cudnnConvolutionFwdAlgoPerf_t;
  static constexpr int kCount = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
  static constexpr const char* kWhat = "forward";
  static ConvAlgo& slot(ConvPlan& p) { return p.forward; }
  static size_t output_size(const ConvShape& s) { return s.out_size(); }
  static void heuristic(cudnnHandle_t h, ConvPlan& p, Perf* perf, int* n) {
    CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, p.x, p.w, p.conv, p.y, kCount, n, perf));
  }
  static void find(cudnnHandle_t h, ConvPlan& p, const float* x, const float* w, float* y, Perf* perf, int* n,
                   DeviceBuffer& ws) {
    CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(h, p.x, x, p.w, w, p.conv, p.y, y, kCount, n, perf, ws.get(),
                                                       ws.bytes()));
  }
  static void run(cudnnHandle_t h, ConvPlan& p, const float* x, const float* w, float* y, void* ws) {
    CUDNN_CHECK(cudnnConvolutionForward(h, &kOne, p.x, x, p.w, w, p.conv, cudnnConvolutionFwdAlgo_t(p.forward.algo),
                                        ws, p.forward.workspace, &kZero, p.y, y));
  }
};

struct BackwardData {
  using Perf = cudnnConvolutionBwdDataAlgoPerf_t;
  static constexpr int kCount = CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
  static constexpr const char* kWhat = "backward-data";
  static ConvAlgo& slot(ConvPlan& p) { return p.backward_data; }
  static size_t output_size(const ConvShape& s) { return s.in_size(); }
  static void heuristic(cudnnHandle_t h, ConvPlan& p, Perf* perf, int* n) {
    CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w, p.y, p.conv, p.x, kCount, n, perf));
  }
  static void find(cudnnHandle_t h, ConvPlan& p, const float* dy, const float* w, float* dx, Perf* perf, int* n,
                   DeviceBuffer& ws) {
    CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(h, p.w, w, p.y, dy, p.conv, p.x, dx, kCount, n, perf,
                                                            ws.get(), ws.bytes()));
  }
  static void run(cudnnHandle_t h, ConvPlan& p, const float* dy, const float* w, float* dx, void* ws) {
    CUDNN_CHECK(cudnnConvolutionBackwardData(h, &kOne, p.w, w, p.y, dy, p.conv,
                                             cudnnConvolutionBwdDataAlgo_t(p.backward_data.algo), ws,
                                             p.backward_data.workspace, &kZero, p.x, dx));
  }
};

struct BackwardFilter {
  using Perf = cudnnConvolutionBwdFilterAlgoPerf_t;
  static constexpr int kCount = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
  static constexpr const char* kWhat = "backward-filter";
  static ConvAlgo& slot(ConvPlan& p) { return p.backward_filter; }
  static size_t output_size(const ConvShape& s) { return s.weight_size(); }
  static void heuristic(cudnnHandle_t h, ConvPlan& p, Perf* perf, int* n) {
    CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x, p.y, p.conv, p.w, kCount, n, perf));
  }
  static void find(cudnnHandle_t h, ConvPlan& p, const float* x, const float* dy, float* dw, Perf* perf, int* n,
                   DeviceBuffer& ws) {
    CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(h, p.x, x, p.y, dy, p.conv, p.w, dw, kCount, n, perf,
                                                              ws.get(), ws.bytes()));
  }
  static void run(cudnnHandle_t h, ConvPlan& p, const float* x, const float* dy, float* dw, void* ws) {
    CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &kOne, p.x, x, p.y, dy, p.conv,
                                               cudnnConvolutionBwdFilterAlgo_t(p.backward_filter.algo), ws,
                                               p.backward_filter.workspace, &kZero, p.w, dw));
  }
};

// Chooses direction D's algorithm for the plan: by heuristics (always in deterministic mode), or by
// timing every candidate on the real buffers.
template <class D>
void choose(CudaContext& ctx, ConvPlan& p, const float* a, const float* b, float* c) {
  p.conv.set_math(base_math(p));  // not the math type another direction picked
  typename D::Perf perf[D::kCount];
  int n = 0;
  if (use_heuristics()) {
    D::heuristic(ctx.cudnn(), p, perf, &n);
    D::slot(p) = pick(perf, n, p.tf32, kMaxHeuristicWorkspace, "heuristic", D::kWhat);
  } else {
    DeviceBuffer ws = find_workspace();
    D::find(ctx.cudnn(), p, a, b, c, perf, &n, ws);
    D::slot(p) = pick(perf, n, p.tf32, ws.bytes(), "find", D::kWhat);
  }
}

// One convolution in direction D with the plan's cached algorithm (chosen on first use). beta = 0: the
// output is not read, so whatever it held (NaN included) does not leak in.
template <class D>
void convolve(const ConvShape& s, const float* a, const float* b, float* c) {
  if (D::output_size(s) == 0) return;
  CudaContext& ctx = CudaContext::current();
  ConvPlan& p = ctx.conv_plan(s);
  if (!D::slot(p).chosen) choose<D>(ctx, p, a, b, c);
  p.conv.set_math(D::slot(p).math);
  D::run(ctx.cudnn(), p, a, b, c, ctx.workspace(D::slot(p).workspace));
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

// Every usable result of direction D's Find*Ex on these buffers, named.
template <class D, size_t M>
std::vector<ConvAlgoTiming> timings(const ConvShape& s, const float* a, const float* b, float* c,
                                    const char* const (&names)[M]) {
  CudaContext& ctx = CudaContext::current();
  ConvPlan& p = ctx.conv_plan(s);
  p.conv.set_math(base_math(p));
  typename D::Perf perf[D::kCount];
  int n = 0;
  DeviceBuffer ws = find_workspace();
  D::find(ctx.cudnn(), p, a, b, c, perf, &n, ws);
  std::vector<ConvAlgoTiming> r;
  for (int i = 0; i < n; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS || (!p.tf32 && is_tensor_op(perf[i].mathType))) continue;
    const int algo = int(perf[i].algo);
    r.push_back({algo >= 0 && size_t(algo) < M ? names[algo] : "?", double(perf[i].time), perf[i].memory});
  }
  if (D::slot(p).chosen) p.conv.set_math(D::slot(p).math);
  return r;
}

}  // namespace

std::vector<ConvAlgoTiming> conv_algo_timings(const std::string& op, const ConvShape& s, const float* a,
                                              const float* b, float* c) {
  if (op == "conv2d_forward") return timings<Forward>(s, a, b, c, kFwdNames);
  if (op == "conv2d_backward_data") return timings<BackwardData>(s, a, b, c, kBwdDataNames);
  if (op == "conv2d_backward_filter") return timings<BackwardFilter>(s, a, b, c, kBwdFilterNames);
  throw CudaError("conv_algo_timings: '" + op + "' is not a convolution");
}

// ---- convolutions ---------------------------------------------------------------------------------------

void conv2d_forward(const ConvShape& s, const float* x, const float* w, float* y) {
  convolve<Forward>(s, x, w, y);
  DIGITS_CUDA_AFTER_LIBRARY_OP("conv2d_forward");
}

void conv2d_backward_data(const ConvShape& s, const float* dy, const float* w, float* dx) {
  convolve<BackwardData>(s, dy, w, dx);
  DIGITS_CUDA_AFTER_LIBRARY_OP("conv2d_backward_data");
}

void conv2d_backward_filter(const ConvShape& s, const float* x, const float* dy, float* dw) {
  convolve<BackwardFilter>(s, x, dy, dw);
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
