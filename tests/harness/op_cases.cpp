// THE OP CASE TABLE. Every op of host/ops.h has its cases here, and only here: the tests
// OpCpu.MatchesReference, OpCuda.MatchesCpu and OpGrad.MatchesCentralDifferences and the benchmarks
// BM_<op>_Cpu/<label> and BM_<op>_Cuda/<label> are all generated from these entries.
//
// How to add an op (e.g. gap_forward / gap_backward, global average pooling (N, C, HW) -> (N, C)):
//  1. Write a builder next to the others below, e.g. `void gap(Table& t, const Where& w, int N, int C, int HW)`,
//     that calls t.add() once per op with an OpCase: its tensors in the op's argument order (name, type,
//     count, role, input factory: uniform(lo, hi), labels(K), indices(count), maxpool_argmax(s), ...;
//     outputs are poisoned with NaN), `run` calling the Backend method (be.gap_forward(N, C, HW, a.f(0),
//     a.f(1))), its tolerance (testing/tolerance.h: kElementwise, kReduction, kConvGemm, ...), its FLOP
//     and byte counts, and for a differentiable op on a tiny shape (`w.grad`) a gradcheck in double
//     through reference::typed (see conv() or bias() for the pattern: loss <y, G>, dy = G).
//  2. Call it from add_layer() for the layer kind that uses the op (its real network shapes at every
//     batch), and from awkward() with a few awkward shapes (N=1, odd sizes, not a multiple of 16, K=1),
//     one of them tiny with w.grad = true.
//  3. Add a bad shape per op to bad_calls() at the end (the op's precondition, host/op_checks.h).
// Nothing else changes: no test, benchmark or CMake file names ops.
#include <limits>
#include <map>
#include <tuple>
#include <sstream>

#include "harness/op_harness.h"
#include "layers.h"
#include "model.h"
#include "train_config.h"
#include "reference/reference_impl.h"

namespace digits::harness {
namespace {

namespace typed = reference::typed;
using testing::numeric_gradient;
using testing::random_doubles;
using testing::Vec;

// MNIST's normalisation, as the trainer's test batches use it.
constexpr float kScale = 1.0f / (255.0f * 0.3081f), kShift = -0.1307f / 0.3081f;
// The random bounds of the trainer's augmentation, and a wild set that sends much of the image outside.
constexpr AugmentParams kTypical{15.f, 0.15f, 0.2f, 3.f, 2.f};
constexpr AugmentParams kWild{180.f, 0.5f, 1.f, 10.f, 5.f};

// Where a case comes from: its label, whether it is a real network's shape, and whether it is tiny enough
// for a finite-difference gradient check.
struct Where {
  std::string label;
  bool network = false;
  bool grad = false;
};

// The cases collected so far. The same (op, shape) twice is kept once: two presets sharing a layer get
// one case labelled with both (e.g. "seed.conv2+best.conv3"); an awkward shape a network has is dropped.
struct Table {
  std::vector<OpCase> cases;
  std::map<std::string, size_t> seen;  // op and shape -> index in cases
  void add(OpCase c, const Where& w, int images) {
    c.label = w.label;
    c.network = w.network;
    c.images = images;
    if (!w.grad) c.gradcheck = nullptr;
    const auto [it, fresh] = seen.emplace(c.op + " " + c.shape, cases.size());
    if (fresh) {
      cases.push_back(std::move(c));
    } else if (w.network && cases[it->second].network) {
      cases[it->second].label += "+" + w.label;
    }
  }
};

TensorSpec in(const char* name, size_t n, Factory f = uniform(-1, 1), DType t = DType::F32) {
  return TensorSpec{name, t, n, Role::In, std::move(f)};
}
TensorSpec out(const char* name, size_t n, DType t = DType::F32) { return TensorSpec{name, t, n, Role::Out, nullptr}; }
TensorSpec inout(const char* name, size_t n, Factory f = uniform(-1, 1)) {
  return TensorSpec{name, DType::F32, n, Role::InOut, std::move(f)};
}

template <class... Parts>
std::string cat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}

// <y, G> for a random G, and the gradients of every `wrt` vector checked against central differences.
std::vector<GradPair> grads(const std::vector<std::pair<const char*, Vec*>>& wrt, const std::vector<Vec>& analytic,
                            const std::function<double()>& loss) {
  std::vector<GradPair> r;
  for (size_t i = 0; i < wrt.size(); ++i) r.push_back({wrt[i].first, analytic[i], numeric_gradient(*wrt[i].second, loss)});
  return r;
}

constexpr double kF = sizeof(float);

// ---- convolution -------------------------------------------------------------------------------
std::vector<GradPair> conv_grad(const ConvShape& s) {
  Vec x = random_doubles(s.in_size(), 1), w = random_doubles(s.weight_size(), 2), y(s.out_size());
  const Vec G = random_doubles(s.out_size(), 3);
  Vec dx(s.in_size()), dw(s.weight_size());
  typed::conv2d_backward_data<double>(s, G.data(), w.data(), dx.data());
  typed::conv2d_backward_filter<double>(s, x.data(), G.data(), dw.data());
  return grads({{"dx", &x}, {"dw", &w}}, {dx, dw}, [&] {
    typed::conv2d_forward<double>(s, x.data(), w.data(), y.data());
    return testing::dot(y, G);
  });
}

void conv(Table& t, const Where& w, const ConvShape& s) {
  const std::string shape = cat("N=", s.N, " C=", s.C, " H=", s.H, " W=", s.W, " K=", s.K, " R=", s.R, " S=", s.S, " pad=", s.pad);
  const double flops = 2.0 * s.N * s.K * s.C * s.R * s.S * s.P() * s.Q();
  const double bytes = kF * double(s.in_size() + s.weight_size() + s.out_size());
  const auto add = [&](OpCase c) {
    c.conv = s;
    t.add(std::move(c), w, s.N);
  };
  add({"conv2d_forward", "", shape, false, 0, {in("x", s.in_size()), in("w", s.weight_size()), out("y", s.out_size())},
         [s](Backend& be, const Args& a) { be.conv2d_forward(s, a.f(0), a.f(1), a.f(2)); }, testing::gemm_tol(s.C * s.R * s.S), flops,
         bytes, [s] { return conv_grad(s); }});
  add({"conv2d_backward_data", "", shape, false, 0,
         {in("dy", s.out_size()), in("w", s.weight_size()), out("dx", s.in_size())},
         [s](Backend& be, const Args& a) { be.conv2d_backward_data(s, a.f(0), a.f(1), a.f(2)); }, testing::gemm_tol(s.K * s.R * s.S),
         flops, bytes, nullptr});
  add({"conv2d_backward_filter", "", shape, false, 0,
         {in("x", s.in_size()), in("dy", s.out_size()), out("dw", s.weight_size())},
         [s](Backend& be, const Args& a) { be.conv2d_backward_filter(s, a.f(0), a.f(1), a.f(2)); },
         testing::gemm_tol(double(s.N) * s.P() * s.Q()),
         flops, bytes, nullptr});
}

// ---- bias --------------------------------------------------------------------------------------
std::vector<GradPair> bias_grad(int N, int C, int HW) {
  Vec b = random_doubles(size_t(C), 7);
  const Vec y0 = random_doubles(size_t(N) * C * HW, 8), G = random_doubles(y0.size(), 9);
  Vec db(static_cast<size_t>(C));
  typed::bias_backward<double>(N, C, HW, G.data(), db.data());
  return grads({{"db", &b}}, {db}, [&] {
    Vec y = y0;
    typed::bias_forward<double>(N, C, HW, b.data(), y.data());
    return testing::dot(y, G);
  });
}

void bias(Table& t, const Where& w, int N, int C, int HW) {
  const size_t n = size_t(N) * C * HW;
  const std::string shape = cat("N=", N, " C=", C, " HW=", HW);
  t.add({"bias_forward", "", shape, false, 0, {in("b", size_t(C)), inout("y", n)},
         [=](Backend& be, const Args& a) { be.bias_forward(N, C, HW, a.f(0), a.f(1)); }, testing::kElementwise,
         double(n), kF * 2 * double(n), [=] { return bias_grad(N, C, HW); }},
        w, N);
  t.add({"bias_backward", "", shape, false, 0, {in("dy", n), out("db", size_t(C))},
         [=](Backend& be, const Args& a) { be.bias_backward(N, C, HW, a.f(0), a.f(1)); }, testing::kReduction, double(n),
         kF * double(n), nullptr},
        w, N);
}

// ---- global average pooling ----------------------------------------------------------------------
std::vector<GradPair> gap_grad(int N, int C, int HW) {
  Vec x = random_doubles(size_t(N) * C * HW, 16), y(size_t(N) * C);
  const Vec G = random_doubles(y.size(), 17);
  Vec dx(x.size());
  typed::gap_backward<double>(N, C, HW, G.data(), dx.data());
  return grads({{"dx", &x}}, {dx}, [&] {
    typed::gap_forward<double>(N, C, HW, x.data(), y.data());
    return testing::dot(y, G);
  });
}

void gap(Table& t, const Where& w, int N, int C, int HW) {
  const size_t n = size_t(N) * C * HW, m = size_t(N) * C;
  const std::string shape = cat("N=", N, " C=", C, " HW=", HW);
  t.add({"gap_forward", "", shape, false, 0, {in("x", n), out("y", m)},
         [=](Backend& be, const Args& a) { be.gap_forward(N, C, HW, a.f(0), a.f(1)); }, testing::kReduction, double(n),
         kF * double(n + m), [=] { return gap_grad(N, C, HW); }},
        w, N);
  t.add({"gap_backward", "", shape, false, 0, {in("dy", m), out("dx", n)},
         [=](Backend& be, const Args& a) { be.gap_backward(N, C, HW, a.f(0), a.f(1)); }, testing::kElementwise,
         double(n), kF * double(n + m), nullptr},
        w, N);
}

// ---- max pooling (both with and without ties in the windows: all-or-nothing exact) --------------
std::vector<GradPair> pool_grad(const PoolShape& s) {
  // distinct values at least 1e-2 apart: a step of h = 1e-4 never changes which element is the max
  Vec x(s.in_size()), y(s.out_size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = double((i * 7919) % x.size()) * 1e-2;
  const Vec G = random_doubles(s.out_size(), 11);
  std::vector<int32_t> am(s.out_size());
  auto loss = [&] {
    typed::maxpool_forward<double>(s, x.data(), y.data(), am.data());
    return testing::dot(y, G);
  };
  loss();
  Vec dx(s.in_size());
  typed::maxpool_backward<double>(s, G.data(), am.data(), dx.data());
  return grads({{"dx", &x}}, {dx}, loss);
}

void pool(Table& t, const Where& w, const PoolShape& s, bool with_ties = false) {
  const std::string shape = cat("N=", s.N, " C=", s.C, " H=", s.H, " W=", s.W, " size=", s.size, with_ties ? " ties" : "");
  const double bytes = kF * double(s.in_size() + 2 * s.out_size());
  const auto add = [&](OpCase c) {
    c.pool = s;
    t.add(std::move(c), w, s.N);
  };
  add({"maxpool_forward", "", shape, false, 0,
         {in("x", s.in_size(), with_ties ? ties(-2, 2) : uniform(-1, 1)), out("y", s.out_size()),
          out("argmax", s.out_size(), DType::I32)},
         [s](Backend& be, const Args& a) { be.maxpool_forward(s, a.f(0), a.f(1), a.i32(2)); }, testing::kExact,
         double(s.in_size()), bytes, [s] { return pool_grad(s); }});
  if (with_ties) return;  // backward only sees the argmax
  add({"maxpool_backward", "", shape, false, 0,
         {in("dy", s.out_size()), in("argmax", s.out_size(), maxpool_argmax(s), DType::I32), out("dx", s.in_size())},
         [s](Backend& be, const Args& a) { be.maxpool_backward(s, a.f(0), a.i32(1), a.f(2)); }, testing::kExact,
         double(s.out_size()), bytes + kF * double(s.in_size()), nullptr});
}

// ---- dense -------------------------------------------------------------------------------------
std::vector<GradPair> dense_grad(const DenseShape& s) {
  Vec x = random_doubles(size_t(s.N) * s.in, 4), w = random_doubles(size_t(s.out) * s.in, 5), y(size_t(s.N) * s.out);
  const Vec G = random_doubles(y.size(), 6);
  Vec dx(x.size()), dw(w.size());
  typed::dense_backward_data<double>(s, G.data(), w.data(), dx.data());
  typed::dense_backward_weight<double>(s, x.data(), G.data(), dw.data());
  return grads({{"dx", &x}, {"dw", &w}}, {dx, dw}, [&] {
    typed::dense_forward<double>(s, x.data(), w.data(), y.data());
    return testing::dot(y, G);
  });
}

void dense(Table& t, const Where& w, const DenseShape& s) {
  const size_t nx = size_t(s.N) * s.in, ny = size_t(s.N) * s.out, nw = size_t(s.out) * s.in;
  const std::string shape = cat("N=", s.N, " in=", s.in, " out=", s.out);
  const double flops = 2.0 * double(nw) * s.N, bytes = kF * double(nx + ny + nw);
  t.add({"dense_forward", "", shape, false, 0, {in("x", nx), in("w", nw), out("y", ny)},
         [s](Backend& be, const Args& a) { be.dense_forward(s, a.f(0), a.f(1), a.f(2)); }, testing::gemm_tol(s.in), flops,
         bytes, [s] { return dense_grad(s); }},
        w, s.N);
  t.add({"dense_backward_data", "", shape, false, 0, {in("dy", ny), in("w", nw), out("dx", nx)},
         [s](Backend& be, const Args& a) { be.dense_backward_data(s, a.f(0), a.f(1), a.f(2)); }, testing::gemm_tol(s.out),
         flops, bytes, nullptr},
        w, s.N);
  t.add({"dense_backward_weight", "", shape, false, 0, {in("x", nx), in("dy", ny), out("dw", nw)},
         [s](Backend& be, const Args& a) { be.dense_backward_weight(s, a.f(0), a.f(1), a.f(2)); }, testing::gemm_tol(s.N),
         flops, bytes, nullptr},
        w, s.N);
}

// ---- activations -------------------------------------------------------------------------------
std::vector<GradPair> relu_grad(size_t n) {
  Vec x = random_doubles(n, 12), y(n);
  for (auto& v : x) v += v >= 0 ? 0.01 : -0.01;  // keep away from the kink at 0
  const Vec G = random_doubles(n, 13);
  auto loss = [&] {
    typed::relu_forward<double>(n, x.data(), y.data());
    return testing::dot(y, G);
  };
  loss();
  Vec dx(n);
  typed::relu_backward<double>(n, y.data(), G.data(), dx.data());
  return grads({{"dx", &x}}, {dx}, loss);
}

void relu(Table& t, const Where& w, size_t n, int images) {
  const std::string shape = cat("n=", n);
  t.add({"relu_forward", "", shape, false, 0, {in("x", n), out("y", n)},
         [n](Backend& be, const Args& a) { be.relu_forward(n, a.f(0), a.f(1)); }, testing::kElementwise, double(n),
         kF * 2 * double(n), [n] { return relu_grad(n); }},
        w, images);
  // y as the forward makes it: non-negative with zeros
  t.add({"relu_backward", "", shape, false, 0, {in("y", n, ties(-1, 1)), in("dy", n), out("dx", n)},
         [n](Backend& be, const Args& a) { be.relu_backward(n, a.f(0), a.f(1), a.f(2)); }, testing::kElementwise,
         double(n), kF * 3 * double(n), nullptr},
        w, images);
}

std::vector<GradPair> dropout_grad(size_t n, float rate, uint64_t seed) {
  Vec x = random_doubles(n, 14), y(n);
  const Vec G = random_doubles(n, 15);
  Vec dx(n);
  typed::dropout_backward<double>(n, rate, seed, G.data(), dx.data());
  return grads({{"dx", &x}}, {dx}, [&] {
    typed::dropout_forward<double>(n, rate, seed, x.data(), y.data());
    return testing::dot(y, G);
  });
}

// Same mask bits and the same float scale on every backend: exact.
void dropout(Table& t, const Where& w, size_t n, float rate, uint64_t seed, int images) {
  const std::string shape = cat("n=", n, " rate=", rate, " seed=", seed);
  t.add({"dropout_forward", "", shape, false, 0, {in("x", n), out("y", n)},
         [=](Backend& be, const Args& a) { be.dropout_forward(n, rate, seed, a.f(0), a.f(1)); }, testing::kExact,
         double(n), kF * 2 * double(n), [=] { return dropout_grad(n, rate, seed); }},
        w, images);
  t.add({"dropout_backward", "", shape, false, 0, {in("dy", n), out("dx", n)},
         [=](Backend& be, const Args& a) { be.dropout_backward(n, rate, seed, a.f(0), a.f(1)); }, testing::kExact,
         double(n), kF * 2 * double(n), nullptr},
        w, images);
}

// ---- softmax cross-entropy and statistics ------------------------------------------------------
std::vector<GradPair> xent_grad(int N, int K) {
  Vec logits = random_doubles(size_t(N) * K, 16, -3, 3), probs(logits.size()), dl(logits.size());
  Vec rows(static_cast<size_t>(N));
  std::vector<int32_t> lab(static_cast<size_t>(N));
  for (int i = 0; i < N; ++i) lab[size_t(i)] = (i * 7 + 3) % K;
  const float scale = 1.0f / float(N);
  typed::softmax_xent<double>(N, K, logits.data(), lab.data(), probs.data(), rows.data(), dl.data(), scale);
  return grads({{"dlogits", &logits}}, {dl}, [&] {
    typed::softmax_xent<double>(N, K, logits.data(), lab.data(), probs.data(), rows.data(), nullptr, scale);
    double s = 0;
    for (double l : rows) s += l;
    return s * double(scale);
  });
}

void softmax(Table& t, const Where& w, int N, int K, bool huge = false) {
  const size_t nk = size_t(N) * K;
  const std::string shape = cat("N=", N, " K=", K, huge ? " huge" : "");
  const float scale = 1.0f / float(N);
  const Factory logits = huge ? huge_logits(-5, 5) : uniform(-5, 5);
  t.add({"softmax_xent", "", shape, false, 0,
         {in("logits", nk, logits), in("labels", size_t(N), labels(K), DType::I32), out("probs", nk),
          out("loss", size_t(N)), out("dlogits", nk)},
         [=](Backend& be, const Args& a) { be.softmax_xent(N, K, a.f(0), a.i32(1), a.f(2), a.f(3), a.f(4), scale); },
         testing::kReduction, 5.0 * double(nk), kF * 3 * double(nk), [=] { return xent_grad(N, K); }},
        w, N);
  // without dlogits (evaluation): probs and loss only
  t.add({"softmax_xent", "", shape + " no_dlogits", false, 0,
         {in("logits", nk, logits), in("labels", size_t(N), labels(K), DType::I32), out("probs", nk), out("loss", size_t(N))},
         [=](Backend& be, const Args& a) { be.softmax_xent(N, K, a.f(0), a.i32(1), a.f(2), a.f(3), nullptr, scale); },
         testing::kReduction, 4.0 * double(nk), kF * 2 * double(nk), nullptr},
        Where{w.label + ".no_dlogits", w.network, false}, N);
  t.add({"accumulate_stats", "", shape, false, 0,
         {in("probs", nk, uniform(0, 1)), in("labels", size_t(N), labels(K), DType::I32),
          in("loss", size_t(N), uniform(0, 3)), TensorSpec{"stats", DType::F64, 2, Role::InOut, uniform(0, 10)}},
         [=](Backend& be, const Args& a) { be.accumulate_stats(N, K, a.f(0), a.i32(1), a.f(2), a.f64(3)); },
         testing::kStats, double(nk), kF * double(nk + size_t(N)), nullptr},
        w, N);
}

// ---- batches from a resident data set of `count` random images -----------------------------------
void gather(Table& t, const Where& w, int n, int pixels, int count) {
  const size_t np = size_t(n) * pixels;
  t.add({"gather_batch", "", cat("n=", n, " pixels=", pixels, " count=", count), false, 0,
         {in("images", size_t(count) * pixels, random_bytes(), DType::U8), in("labels", size_t(count), labels(10), DType::U8),
          in("index", size_t(n), indices(count), DType::I32), out("x", np), out("labels_out", size_t(n), DType::I32)},
         [=](Backend& be, const Args& a) {
           be.gather_batch(n, pixels, a.u8(0), a.u8(1), a.i32(2), kScale, kShift, a.f(3), a.i32(4));
         },
         testing::kElementwise, 2.0 * double(np), double(np) * (1 + kF), nullptr},
        w, n);
}

void augment(Table& t, const Where& w, int n, int H, int W, const AugmentParams& p, int count = 50) {
  const size_t np = size_t(n) * H * W;
  const std::string shape = cat("n=", n, " H=", H, " W=", W, " rotate=", p.rotate_deg, " zoom=", p.zoom, " shear=", p.shear,
                                " translate=", p.translate, " elastic=", p.elastic);
  t.add({"augment_batch", "", shape, false, 0,
         {in("images", size_t(count) * H * W, random_bytes(), DType::U8), in("labels", size_t(count), labels(10), DType::U8),
          in("index", size_t(n), indices(count), DType::I32), out("x", np), out("labels_out", size_t(n), DType::I32)},
         [=](Backend& be, const Args& a) {
           be.augment_batch(n, H, W, a.u8(0), a.u8(1), a.i32(2), p, 31337, kScale, kShift, a.f(3), a.i32(4));
         },
         testing::augment_tol(kScale), 60.0 * double(np), double(np) * (4 + kF), nullptr},
        w, n);
}

// ---- batch normalization -----------------------------------------------------------------------
std::vector<GradPair> batchnorm_grad(int N, int C, int HW) {
  const size_t n = size_t(N) * C * HW, c = size_t(C);
  Vec x = random_doubles(n, 11, -2, 3), gamma = random_doubles(c, 12, 0.5, 2), beta = random_doubles(c, 13);
  const Vec G = random_doubles(n, 14);
  Vec y(n), mean(c), inv_std(c), rm(c), rv(c), dx(n), dgamma(c), dbeta(c);
  auto loss = [&] {
    typed::batchnorm_forward_train<double>(N, C, HW, 1e-5f, 0.1f, x.data(), gamma.data(), beta.data(), y.data(),
                                           mean.data(), inv_std.data(), rm.data(), rv.data());
    return testing::dot(y, G);
  };
  loss();
  typed::batchnorm_backward<double>(N, C, HW, x.data(), G.data(), gamma.data(), mean.data(), inv_std.data(), dx.data(),
                                    dgamma.data(), dbeta.data());
  return grads({{"dx", &x}, {"dgamma", &gamma}, {"dbeta", &beta}}, {dx, dgamma, dbeta}, loss);
}

// x has a large common offset (mean ~50, spread ~3): checks the two-pass variance and the centred affine.
// Not with fewer than 8 values per channel: there x - mean, a difference of two roundings of |x| ~ 50,
// is ill-conditioned in float whatever the implementation (the network's dense batchnorm at batch 2).
void batchnorm(Table& t, const Where& w, int N, int C, int HW) {
  const size_t n = size_t(N) * C * HW, c = size_t(C);
  const Factory x = double(N) * HW >= 8 ? uniform(47, 53) : uniform(-2, 3);
  const std::string shape = cat("N=", N, " C=", C, " HW=", HW);
  const testing::Tol sums = testing::batchnorm_sum_tol(double(N) * HW);
  t.add({"batchnorm_forward_train", "", shape, false, 0,
         {in("x", n, x), in("gamma", c, uniform(0.5, 2)), in("beta", c), out("y", n), out("batch_mean", c),
          out("batch_inv_std", c), inout("running_mean", c), inout("running_var", c, uniform(0.5, 2))},
         [=](Backend& be, const Args& a) {
           be.batchnorm_forward_train(N, C, HW, 1e-5f, 0.1f, a.f(0), a.f(1), a.f(2), a.f(3), a.f(4), a.f(5), a.f(6), a.f(7));
         },
         testing::kReduction, 8.0 * double(n), kF * 2 * double(n), [=] { return batchnorm_grad(N, C, HW); }},
        w, N);
  t.add({"batchnorm_forward_infer", "", shape, false, 0,
         {in("x", n, x), in("gamma", c, uniform(0.5, 2)), in("beta", c), in("running_mean", c, uniform(49, 51)),
          in("running_var", c, uniform(0.5, 2)), out("y", n)},
         [=](Backend& be, const Args& a) {
           be.batchnorm_forward_infer(N, C, HW, 1e-5f, a.f(0), a.f(1), a.f(2), a.f(3), a.f(4), a.f(5));
         },
         testing::kElementwise, 2.0 * double(n), kF * 2 * double(n), nullptr},
        w, N);
  TensorSpec dgamma = out("dgamma", c), dbeta = out("dbeta", c);
  dgamma.tol = dbeta.tol = sums;
  t.add({"batchnorm_backward", "", shape, false, 0,
         {in("x", n, x), in("dy", n), in("gamma", c, uniform(0.5, 2)), in("batch_mean", c, uniform(49, 51)),
          in("batch_inv_std", c, uniform(0.5, 1)), out("dx", n), dgamma, dbeta},
         [=](Backend& be, const Args& a) {
           be.batchnorm_backward(N, C, HW, a.f(0), a.f(1), a.f(2), a.f(3), a.f(4), a.f(5), a.f(6), a.f(7));
         },
         testing::kReduction, 10.0 * double(n), kF * 3 * double(n), nullptr},
        w, N);
}

// ---- optimizers over a flat parameter buffer of n elements ---------------------------------------
void optimizers(Table& t, const Where& w, size_t n) {
  const std::string shape = cat("n=", n);
  const Factory s1 = uniform(0, 0.1), s2 = uniform(0, 0.01);
  t.add({"adadelta_update", "", shape, false, 0, {inout("w", n), in("g", n), inout("accum_grad", n, s1), inout("accum_delta", n, s2)},
         [n](Backend& be, const Args& a) { be.adadelta_update(n, AdadeltaParams{}, a.f(0), a.f(1), a.f(2), a.f(3)); },
         testing::kOptimizer, 14.0 * double(n), kF * 7 * double(n), nullptr},
        w, 0);
  t.add({"sgd_update", "", shape, false, 0, {inout("w", n), in("g", n), inout("velocity", n, s1)},
         [n](Backend& be, const Args& a) { be.sgd_update(n, SgdParams{0.05f, 0.9f}, a.f(0), a.f(1), a.f(2)); },
         testing::kOptimizer, 3.0 * double(n), kF * 5 * double(n), nullptr},
        w, 0);
  AdamParams p;
  p.t = 7;
  t.add({"adam_update", "", shape, false, 0, {inout("w", n), in("g", n), inout("m", n, s1), inout("v", n, s2)},
         [n, p](Backend& be, const Args& a) { be.adam_update(n, p, a.f(0), a.f(1), a.f(2), a.f(3)); },
         testing::kOptimizer, 12.0 * double(n), kF * 7 * double(n), nullptr},
        w, 0);
}

// ---- the presets' real networks ----------------------------------------------------------------
// The cases of one layer `l` fed with `d` at batch N, labelled e.g. "best.conv3".
void add_layer(Table& t, const std::string& label, const LayerSpec& l, Dims d, Dims o, int N) {
  const Where w{label, true, false};
  const size_t n = size_t(N) * d.size();
  if (l.kind == "conv") {
    conv(t, w, ConvShape{N, d.c, d.h, d.w, l.units, l.kernel, l.kernel, l.same ? (l.kernel - 1) / 2 : 0});
    bias(t, w, N, o.c, o.h * o.w);
  } else if (l.kind == "dense") {
    dense(t, w, DenseShape{N, int(d.size()), l.units});
    bias(t, w, N, l.units, 1);
  } else if (l.kind == "maxpool") {
    pool(t, w, PoolShape{N, d.c, d.h, d.w, l.kernel});
  } else if (l.kind == "relu") {
    relu(t, w, n, N);
  } else if (l.kind == "dropout") {
    dropout(t, w, n, l.rate, 12345, N);
  } else if (l.kind == "batchnorm") {
    batchnorm(t, w, N, d.c, d.h * d.w);
  } else if (l.kind == "gap") {
    gap(t, w, N, d.c, d.h * d.w);
  }  // flatten: no op
}

// Short names in labels, e.g. "best.bn2", "seed.pool1".
std::string label_name(const std::string& kind) {
  return kind == "maxpool" ? "pool" : kind == "batchnorm" ? "bn" : kind;
}

// Walks a preset's spec layer by layer (make_layer gives every layer's output dims and parameters), then
// adds what a training step does around the network: the batch, the loss and the optimizer update.
void add_preset(Table& t, const Preset& p, int N) {
  const NetSpec spec = NetSpec::parse(p.spec);
  Dims d = spec.input;
  std::map<std::string, int> seen;
  size_t params = 0;
  for (const LayerSpec& l : spec.layers) {
    const auto layer = make_layer(l, d);
    for (const ParamInfo& pi : layer->params()) params += pi.size();
    add_layer(t, cat(p.name, ".", label_name(l.kind), ++seen[l.kind]), l, d, layer->out_dims(), N);
    d = layer->out_dims();
  }
  const Where batch{p.name + ".batch", true, false};
  gather(t, batch, N, int(spec.input.size()), 1000);
  if (p.train.augment) augment(t, batch, N, spec.input.h, spec.input.w, p.train.augment_params, 1000);
  softmax(t, Where{p.name + ".loss", true, false}, N, int(d.size()));
  optimizers(t, Where{p.name + ".params", true, false}, params);
}

// ---- awkward shapes: N=1, odd H/W, sizes that are not a multiple of the block size, K=1, C=3 ------
Where odd(const std::string& tag, bool grad = false) { return Where{"awkward." + tag, false, grad}; }

void awkward_conv(Table& t) {
  // clang-format off
  const std::pair<const char*, ConvShape> convs[] = {
      //                       N   C   H   W   K  R  S  pad
      {"ones",       ConvShape{ 1,  1,  5,  5,  1, 3, 3, 0}},
      {"N1_same",    ConvShape{ 1,  3,  7,  9,  5, 3, 3, 1}},   // N=1 (the single-image path), C=3
      {"C17_K33",    ConvShape{ 2, 17,  6,  5, 33, 3, 3, 1}},
      {"5x5_pad2",   ConvShape{ 3,  5, 11, 13, 17, 5, 5, 2}},
      {"N17_RneS",   ConvShape{17,  3,  9,  7,  5, 3, 2, 0}},   // uneven chunks in backward filter; R != S
      {"pad_big",    ConvShape{ 5,  4,  8,  8,  7, 3, 3, 2}},   // pad larger than "same"
      {"1x1",        ConvShape{ 3,  2,  4,  4,  3, 1, 1, 0}},   // no im2col
      {"N1_K1",      ConvShape{ 1, 33,  5,  5,  1, 3, 3, 1}},
      {"N1_1x1",     ConvShape{ 1,  2,  3,  5,  4, 1, 1, 0}},
      {"1x1_K1",     ConvShape{ 2, 33,  4,  4,  1, 1, 1, 0}},
      {"wino_odd",   ConvShape{ 3, 16,  9,  7, 16, 3, 3, 0}},   // Winograd: odd P and Q (partial edge tiles)
      {"wino_pad2",  ConvShape{ 2, 16,  5,  6, 20, 3, 3, 2}},   // Winograd: backward data without padding
      {"wino_N1",    ConvShape{ 1, 20, 11,  4, 17, 3, 3, 1}},   // Winograd: one tile column pair
      {"wino_N9",    ConvShape{ 9, 16,  4,  4, 16, 3, 3, 0}},   // Winograd: one tile per image, blocks span images
      {"out1x1",     ConvShape{ 4, 16,  3,  3, 16, 3, 3, 0}},   // 3x3 with a 1x1 output: im2col
      {"direct_Q28", ConvShape{ 3,  2,  9, 32,  8, 5, 5, 0}},   // direct: shifted last block, 4-column tail
      {"direct_Q9",  ConvShape{ 2,  3, 12, 13, 16, 5, 5, 0}},   // direct: overlapping 8-column blocks
      {"direct_N1",  ConvShape{ 1,  1, 28, 28, 32, 5, 5, 0}},
      {"direct_N3",  ConvShape{ 3,  1, 28, 28, 32, 5, 5, 0}},
      {"direct3_Q11", ConvShape{ 3,  2, 13, 13, 16, 3, 3, 0}},  // direct 3x3: overlapping blocks, 3-column tail
      {"direct3_Q26", ConvShape{ 2,  7, 10, 28, 24, 3, 3, 0}},  // direct 3x3: C*R*S = 63, shifted last block
      {"direct_N19", ConvShape{19,  1, 28, 28, 32, 5, 5, 0}},   // uneven filter chunks
  };
  const std::pair<const char*, ConvShape> tiny[] = {
      {"grad_ones", ConvShape{1, 1, 4, 4, 1, 3, 3, 0}}, {"grad_RneS", ConvShape{2, 2, 5, 4, 3, 3, 2, 1}},
      {"grad_C3",   ConvShape{1, 3, 5, 5, 2, 3, 3, 1}}, {"grad_1x1",  ConvShape{2, 2, 3, 3, 2, 1, 1, 0}}};
  // clang-format on
  for (const auto& [tag, s] : convs) conv(t, odd(tag), s);
  for (const auto& [tag, s] : tiny) conv(t, odd(tag, true), s);
}

void awkward_layers(Table& t) {
  for (const auto& [N, C, HW] : {std::tuple{1, 1, 1}, {3, 5, 7}, {2, 33, 1}, {128, 10, 1}, {4, 17, 100}, {1, 3, 31},
                                 {16, 64, 576}, {2, 17, 35}, {5, 3, 121}, {128, 32, 576}, {1, 1, 1000}})
    bias(t, odd(cat("N", N, "_C", C, "_HW", HW)), N, C, HW);
  bias(t, odd("grad", true), 2, 3, 5);
  for (const auto& [N, C, HW] : {std::tuple{1, 1, 1}, {3, 5, 7}, {2, 33, 1}, {1, 64, 25}, {4, 17, 100}, {5, 3, 121}})
    gap(t, odd(cat("gap_N", N, "_C", C, "_HW", HW)), N, C, HW);
  gap(t, odd("gap_grad", true), 2, 3, 5);
  for (const PoolShape s : {PoolShape{1, 1, 5, 5, 2}, PoolShape{2, 3, 7, 9, 2}, PoolShape{3, 5, 6, 6, 3}, PoolShape{1, 17, 4, 4, 4},
                            PoolShape{2, 2, 9, 4, 1}, PoolShape{4, 33, 24, 24, 2}, PoolShape{2, 3, 11, 10, 3},
                            PoolShape{2, 3, 13, 19, 2}, PoolShape{1, 1, 2, 2, 2}, PoolShape{3, 17, 24, 24, 2},
                            PoolShape{1, 33, 5, 5, 3}, PoolShape{2, 1, 9, 8, 4}, PoolShape{4, 64, 24, 24, 2}}) {
    const std::string tag = cat("N", s.N, "_C", s.C, "_", s.H, "x", s.W, "_size", s.size);
    pool(t, odd(tag), s);
    pool(t, odd(tag + "_ties"), s, true);
  }
  pool(t, odd("grad", true), PoolShape{2, 2, 5, 6, 2});
  for (const DenseShape s : {DenseShape{1, 1, 1}, DenseShape{1, 17, 5}, DenseShape{3, 33, 10}, DenseShape{5, 3, 1},
                             DenseShape{7, 1600, 128}, DenseShape{128, 64, 10}, DenseShape{33, 9216, 17}, DenseShape{1, 9216, 128},
                             DenseShape{3, 17, 33}, DenseShape{128, 1600, 128}, DenseShape{7, 128, 10}, DenseShape{5, 33, 1}})
    dense(t, odd(cat("N", s.N, "_in", s.in, "_out", s.out)), s);
  dense(t, odd("grad", true), DenseShape{3, 5, 4});
  for (const auto& [N, C, HW] : {std::tuple{1, 1, 3}, {3, 3, 1}, {37, 5, 1}, {128, 256, 1}, {3, 2, 15}, {5, 3, 17}, {7, 33, 169},
                                 {19, 32, 784}, {2, 64, 121}, {1, 3, 1}, {3, 1, 1}, {257, 3, 1}, {9, 7, 1}, {3, 8, 1},
                                 {257, 33, 1}, {65536, 33, 1}, {1, 1, 7}, {3, 33, 7}, {17, 3, 169}, {64, 3, 169},
                                 {5, 1, 784}, {7, 33, 196}, {128, 33, 784}, {257, 3, 784}})
    batchnorm(t, odd(cat("N", N, "_C", C, "_HW", HW)), N, C, HW);
  for (const auto& [N, C, HW] : {std::tuple{2, 1, 3}, {3, 2, 5}, {5, 3, 1}, {1, 2, 7}})
    batchnorm(t, odd(cat("grad_N", N, "_C", C, "_HW", HW), true), N, C, HW);
}

void awkward_elementwise(Table& t) {
  const size_t lengths[] = {1, 3, 4, 63, 64, 65, 1000, 1001, 65539, 100003};
  for (size_t n : lengths) relu(t, odd(cat("n", n)), n, 0);
  relu(t, odd("grad", true), 50, 0);
  const uint64_t seeds[] = {0, 12345, (uint64_t(1) << 40) + 5};
  int i = 0;
  for (size_t n : {1, 3, 63, 64, 65, 1000, 100003})
    for (float rate : {0.f, 0.25f, 0.3f, 0.5f}) {
      const uint64_t seed = seeds[i++ % 3];
      dropout(t, odd(cat("n", n, "_rate", int(rate * 100), "_seed", seed)), n, rate, seed, 0);
    }
  dropout(t, odd("grad", true), 64, 0.4f, 77, 0);
  for (size_t n : {size_t(1), size_t(1001), size_t(65537), size_t(100003)}) optimizers(t, odd(cat("n", n)), n);
}

void awkward_batches(Table& t) {
  for (const auto& [N, K] : {std::pair{1, 1}, {3, 10}, {200, 7}, {5000, 10}})
    softmax(t, odd(cat("N", N, "_K", K, "_huge")), N, K, true);
  for (const auto& [N, K] : {std::pair{1, 10}, {128, 10}, {3, 33}, {5, 100}, {300, 3}, {2, 1000}})
    softmax(t, odd(cat("N", N, "_K", K)), N, K);
  softmax(t, odd("grad", true), 4, 5);
  for (int n : {1, 7, 128}) gather(t, odd(cat("n", n)), n, 784, 300);
  const int shapes[][2] = {{28, 28}, {5, 7}, {7, 5}, {1, 1}, {1, 9}, {9, 1}, {13, 4}, {2, 3}};
  const std::pair<const char*, AugmentParams> params[] = {
      {"typical", kTypical}, {"wild", kWild}, {"elastic", AugmentParams{0.f, 0.f, 0.f, 0.f, 2.f}}};
  const int batch[] = {1, 3, 37};
  int i = 0;
  for (const auto& [tag, a] : params)
    for (const auto& hw : shapes) {
      const int n = batch[i++ % 3];
      augment(t, odd(cat(tag, "_", hw[0], "x", hw[1], "_n", n)), n, hw[0], hw[1], a);
    }
}

// augment_batch: bad shapes and every transform bound NaN, infinite or negative; zoom of 1 or more.
void bad_augment_calls(std::vector<BadCall>& b) {
  const auto add = [&b](const std::string& what, int n, int H, int W, const AugmentParams& a) {
    b.push_back({"augment_batch", what, [=](Backend& be) {
                   be.augment_batch(n, H, W, nullptr, nullptr, nullptr, a, 1, kScale, kShift, nullptr, nullptr);
                 }});
  };
  for (const auto& [n, H, W] : {std::tuple{-1, 4, 4}, {2, 0, 4}, {2, 4, 0}, {2, -4, 4}}) add(cat("n=", n, " H=", H, " W=", W), n, H, W, kTypical);
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (float AugmentParams::*field : {&AugmentParams::rotate_deg, &AugmentParams::zoom, &AugmentParams::shear,
                                      &AugmentParams::translate, &AugmentParams::elastic})
    for (const float bad : {nan, inf, -inf, -0.5f}) {
      AugmentParams a = kTypical;
      a.*field = bad;
      add(cat("parameter ", bad), 2, 4, 4, a);
    }
  for (const float zoom : {1.f, 1.5f}) {  // the scale 1 + zoom (2 u1 - 1) could reach 0 or below
    AugmentParams a;
    a.zoom = zoom;
    add(cat("zoom=", zoom), 2, 4, 4, a);
  }
}

}  // namespace

std::vector<OpCase> op_cases(int batch, bool with_awkward) {
  Table t;
  for (const Preset& p : presets()) add_preset(t, p, batch);
  // A network of layers no preset uses yet: all-convolutional with global average pooling.
  Preset gapnet;
  gapnet.name = "gapnet";
  gapnet.spec = "conv(32,3) relu conv(64,3) relu maxpool(2) conv(10,3) gap dense(10)";
  add_preset(t, gapnet, batch);
  if (with_awkward) {
    awkward_conv(t);
    awkward_layers(t);
    awkward_elementwise(t);
    awkward_batches(t);
  }
  return std::move(t.cases);
}

const std::vector<OpCase>& test_cases() {
  static const std::vector<OpCase> cases = op_cases(kTestBatch, true);
  return cases;
}

// ---- preconditions: one or more bad calls per op with a precondition -----------------------------
std::vector<BadCall> bad_calls() {
  std::vector<BadCall> b;
  for (const ConvShape s : {ConvShape{1, 1, 2, 2, 1, 3, 3, 0}, ConvShape{1, 0, 2, 2, 1, 1, 1, 0}, ConvShape{1, 1, 2, 2, 1, 1, 1, -1}}) {
    const std::string what = cat("C=", s.C, " H=", s.H, " R=", s.R, " pad=", s.pad);
    b.push_back({"conv2d_forward", what, [s](Backend& be) { be.conv2d_forward(s, nullptr, nullptr, nullptr); }});
    b.push_back({"conv2d_backward_data", what, [s](Backend& be) { be.conv2d_backward_data(s, nullptr, nullptr, nullptr); }});
    b.push_back({"conv2d_backward_filter", what, [s](Backend& be) { be.conv2d_backward_filter(s, nullptr, nullptr, nullptr); }});
  }
  b.push_back({"bias_forward", "C=0", [](Backend& be) { be.bias_forward(1, 0, 1, nullptr, nullptr); }});
  b.push_back({"bias_backward", "HW=0", [](Backend& be) { be.bias_backward(1, 1, 0, nullptr, nullptr); }});
  b.push_back({"gap_forward", "HW=0", [](Backend& be) { be.gap_forward(1, 1, 0, nullptr, nullptr); }});
  b.push_back({"gap_backward", "C=0", [](Backend& be) { be.gap_backward(1, 0, 1, nullptr, nullptr); }});
  const PoolShape ps{1, 1, 1, 4, 2};
  b.push_back({"maxpool_forward", "H<size", [ps](Backend& be) { be.maxpool_forward(ps, nullptr, nullptr, nullptr); }});
  b.push_back({"maxpool_backward", "H<size", [ps](Backend& be) { be.maxpool_backward(ps, nullptr, nullptr, nullptr); }});
  const DenseShape ds{1, 0, 3};
  b.push_back({"dense_forward", "in=0", [ds](Backend& be) { be.dense_forward(ds, nullptr, nullptr, nullptr); }});
  b.push_back({"dense_backward_data", "in=0", [ds](Backend& be) { be.dense_backward_data(ds, nullptr, nullptr, nullptr); }});
  b.push_back({"dense_backward_weight", "in=0", [ds](Backend& be) { be.dense_backward_weight(ds, nullptr, nullptr, nullptr); }});
  for (const float rate : {1.f, -0.1f}) {
    b.push_back({"dropout_forward", cat("rate=", rate), [rate](Backend& be) { be.dropout_forward(4, rate, 1, nullptr, nullptr); }});
    b.push_back({"dropout_backward", cat("rate=", rate), [rate](Backend& be) { be.dropout_backward(4, rate, 1, nullptr, nullptr); }});
  }
  b.push_back({"softmax_xent", "K=0", [](Backend& be) { be.softmax_xent(1, 0, nullptr, nullptr, nullptr, nullptr, nullptr, 1.f); }});
  b.push_back({"accumulate_stats", "N=-1", [](Backend& be) { be.accumulate_stats(-1, 10, nullptr, nullptr, nullptr, nullptr); }});
  b.push_back({"gather_batch", "pixels=0", [](Backend& be) { be.gather_batch(1, 0, nullptr, nullptr, nullptr, 1.f, 0.f, nullptr, nullptr); }});
  bad_augment_calls(b);
  b.push_back({"batchnorm_forward_train", "N=0", [](Backend& be) {
                 be.batchnorm_forward_train(0, 2, 2, 1e-5f, 0.1f, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
               }});
  b.push_back({"batchnorm_forward_train", "momentum=1.5", [](Backend& be) {
                 be.batchnorm_forward_train(1, 2, 2, 1e-5f, 1.5f, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
               }});
  b.push_back({"batchnorm_forward_infer", "eps=0", [](Backend& be) {
                 be.batchnorm_forward_infer(1, 2, 2, 0.f, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
               }});
  b.push_back({"batchnorm_backward", "C=0", [](Backend& be) {
                 be.batchnorm_backward(1, 0, 2, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
               }});
  AdamParams p;
  p.t = 0;
  b.push_back({"adam_update", "t=0", [p](Backend& be) { be.adam_update(2, p, nullptr, nullptr, nullptr, nullptr); }});
  return b;
}

}  // namespace digits::harness
