// Conv2d, ReLU, MaxPool2d, Flatten, Dense and Dropout: shape checks and buffers; the Backend computes.
#include "layers.h"

#include <sstream>

#include "error.h"

namespace digits {

std::string LayerSpec::text() const {
  std::ostringstream os;
  switch (kind) {
    case Kind::Conv: os << "conv(" << units << "," << kernel << (same ? ",same" : "") << ")"; break;
    case Kind::Relu: os << "relu"; break;
    case Kind::MaxPool: os << "maxpool(" << kernel << ")"; break;
    case Kind::Flatten: os << "flatten"; break;
    case Kind::Dense: os << "dense(" << units << ")"; break;
    case Kind::Dropout: os << "dropout(" << rate << ")"; break;
    case Kind::BatchNorm: os << "batchnorm"; break;
  }
  return os.str();
}

size_t ParamInfo::size() const {
  size_t n = 1;
  for (auto d : shape) n *= size_t(d);
  return n;
}

namespace {

// ---- Conv2d: weight (K, C, R, S), bias (K) ----------------------------------------------------------
class Conv2d final : public Layer {
 public:
  Conv2d(const LayerSpec& s, Dims in) {
    spec_ = s;
    in_ = in;
    DIGITS_CHECK(s.units > 0 && s.kernel > 0, "conv needs positive filters and kernel: " << s.text());
    DIGITS_CHECK(in.h > 1 || in.w > 1 || s.kernel == 1, "conv after flatten/dense: " << s.text());
    pad_ = s.same ? (s.kernel - 1) / 2 : 0;
    const int p = in.h + 2 * pad_ - s.kernel + 1, q = in.w + 2 * pad_ - s.kernel + 1;
    DIGITS_CHECK(p > 0 && q > 0, s.text() << " does not fit its " << in.c << "x" << in.h << "x" << in.w << " input");
    out_ = {s.units, p, q};
    params_.push_back({"weight", {s.units, in.c, s.kernel, s.kernel}, 0});
    params_.push_back({"bias", {s.units}, params_[0].size()});
  }
  void setup(Backend& be, int max_batch, float* p, float* g, bool need_dx) override {
    w_ = p, b_ = p + params_[1].offset, dw_ = g, db_ = g + params_[1].offset;
    y_ = Buffer<float>(be, size_t(max_batch) * out_.size());
    if (need_dx) dx_ = Buffer<float>(be, size_t(max_batch) * in_.size());
  }
  ConvShape shape(int N) const { return {N, in_.c, in_.h, in_.w, out_.c, spec_.kernel, spec_.kernel, pad_}; }
  const float* forward(Backend& be, const float* x, int N, const StepContext&) override {
    x_ = x;
    be.conv2d_forward(shape(N), x, w_, y_.data());
    be.bias_forward(N, out_.c, out_.h * out_.w, b_, y_.data());
    return y_.data();
  }
  const float* backward(Backend& be, const float* dy, int N, const StepContext&) override {
    be.conv2d_backward_filter(shape(N), x_, dy, dw_);
    be.bias_backward(N, out_.c, out_.h * out_.w, dy, db_);
    if (!dx_.data()) return nullptr;
    be.conv2d_backward_data(shape(N), dy, w_, dx_.data());
    return dx_.data();
  }

 private:
  int pad_ = 0;
  float *w_ = nullptr, *b_ = nullptr, *dw_ = nullptr, *db_ = nullptr;
  const float* x_ = nullptr;
  Buffer<float> y_, dx_;
};

// ---- Dense: weight (out, in), bias (out) -----------------------------------------------------------
class Dense final : public Layer {
 public:
  Dense(const LayerSpec& s, Dims in) {
    spec_ = s;
    in_ = in;
    DIGITS_CHECK(s.units > 0, "dense needs a positive size: " << s.text());
    DIGITS_CHECK(in.h == 1 && in.w == 1, "dense(" << s.units << ") needs a flat input: add 'flatten' before it");
    out_ = {s.units, 1, 1};
    params_.push_back({"weight", {s.units, in.c}, 0});
    params_.push_back({"bias", {s.units}, params_[0].size()});
  }
  void setup(Backend& be, int max_batch, float* p, float* g, bool need_dx) override {
    w_ = p, b_ = p + params_[1].offset, dw_ = g, db_ = g + params_[1].offset;
    y_ = Buffer<float>(be, size_t(max_batch) * out_.size());
    if (need_dx) dx_ = Buffer<float>(be, size_t(max_batch) * in_.size());
  }
  const float* forward(Backend& be, const float* x, int N, const StepContext&) override {
    x_ = x;
    be.dense_forward({N, in_.c, out_.c}, x, w_, y_.data());
    be.bias_forward(N, out_.c, 1, b_, y_.data());
    return y_.data();
  }
  const float* backward(Backend& be, const float* dy, int N, const StepContext&) override {
    be.dense_backward_weight({N, in_.c, out_.c}, x_, dy, dw_);
    be.bias_backward(N, out_.c, 1, dy, db_);
    if (!dx_.data()) return nullptr;
    be.dense_backward_data({N, in_.c, out_.c}, dy, w_, dx_.data());
    return dx_.data();
  }

 private:
  float *w_ = nullptr, *b_ = nullptr, *dw_ = nullptr, *db_ = nullptr;
  const float* x_ = nullptr;
  Buffer<float> y_, dx_;
};

// ---- ReLU -------------------------------------------------------------------------------------------
class Relu final : public Layer {
 public:
  Relu(const LayerSpec& s, Dims in) { spec_ = s, in_ = in, out_ = in; }
  void setup(Backend& be, int max_batch, float*, float*, bool need_dx) override {
    y_ = Buffer<float>(be, size_t(max_batch) * out_.size());
    if (need_dx) dx_ = Buffer<float>(be, size_t(max_batch) * in_.size());
  }
  const float* forward(Backend& be, const float* x, int N, const StepContext&) override {
    be.relu_forward(size_t(N) * in_.size(), x, y_.data());
    return y_.data();
  }
  const float* backward(Backend& be, const float* dy, int N, const StepContext&) override {
    if (!dx_.data()) return nullptr;
    be.relu_backward(size_t(N) * in_.size(), y_.data(), dy, dx_.data());
    return dx_.data();
  }

 private:
  Buffer<float> y_, dx_;
};

// ---- MaxPool2d --------------------------------------------------------------------------------------
class MaxPool final : public Layer {
 public:
  MaxPool(const LayerSpec& s, Dims in) {
    spec_ = s, in_ = in;
    DIGITS_CHECK(s.kernel > 0, "maxpool needs a positive window: " << s.text());
    DIGITS_CHECK(in.h >= s.kernel && in.w >= s.kernel,
                 s.text() << " does not fit its " << in.c << "x" << in.h << "x" << in.w << " input");
    out_ = {in.c, in.h / s.kernel, in.w / s.kernel};
  }
  void setup(Backend& be, int max_batch, float*, float*, bool need_dx) override {
    y_ = Buffer<float>(be, size_t(max_batch) * out_.size());
    argmax_ = Buffer<int32_t>(be, size_t(max_batch) * out_.size());
    if (need_dx) dx_ = Buffer<float>(be, size_t(max_batch) * in_.size());
  }
  PoolShape shape(int N) const { return {N, in_.c, in_.h, in_.w, spec_.kernel}; }
  const float* forward(Backend& be, const float* x, int N, const StepContext&) override {
    be.maxpool_forward(shape(N), x, y_.data(), argmax_.data());
    return y_.data();
  }
  const float* backward(Backend& be, const float* dy, int N, const StepContext&) override {
    if (!dx_.data()) return nullptr;
    be.maxpool_backward(shape(N), dy, argmax_.data(), dx_.data());
    return dx_.data();
  }

 private:
  Buffer<float> y_, dx_;
  Buffer<int32_t> argmax_;
};

// ---- Flatten: (C, H, W) -> (C*H*W, 1, 1); NCHW memory is already in PyTorch's flatten order ----------
class Flatten final : public Layer {
 public:
  Flatten(const LayerSpec& s, Dims in) { spec_ = s, in_ = in, out_ = {int(in.size()), 1, 1}; }
  void setup(Backend&, int, float*, float*, bool need_dx) override { need_dx_ = need_dx; }
  const float* forward(Backend&, const float* x, int, const StepContext&) override { return x; }
  const float* backward(Backend&, const float* dy, int, const StepContext&) override { return need_dx_ ? dy : nullptr; }

 private:
  bool need_dx_ = true;
};

// ---- Dropout (inverted; identity at inference) -----------------------------------------------------
class Dropout final : public Layer {
 public:
  Dropout(const LayerSpec& s, Dims in) {
    spec_ = s, in_ = in, out_ = in;
    DIGITS_CHECK(s.rate >= 0.f && s.rate < 1.f, "dropout rate must be in [0, 1): " << s.text());
  }
  void setup(Backend& be, int max_batch, float*, float*, bool need_dx) override {
    y_ = Buffer<float>(be, size_t(max_batch) * out_.size());
    if (need_dx) dx_ = Buffer<float>(be, size_t(max_batch) * in_.size());
  }
  const float* forward(Backend& be, const float* x, int N, const StepContext& ctx) override {
    if (!ctx.train || ctx.recalibrate || spec_.rate == 0.f) return x;
    be.dropout_forward(size_t(N) * in_.size(), spec_.rate, ctx.dropout_seed, x, y_.data());
    return y_.data();
  }
  const float* backward(Backend& be, const float* dy, int N, const StepContext& ctx) override {
    if (!dx_.data()) return nullptr;
    if (spec_.rate == 0.f) return dy;
    DIGITS_CHECK(ctx.train, "dropout backward outside training");
    be.dropout_backward(size_t(N) * in_.size(), spec_.rate, ctx.dropout_seed, dy, dx_.data());
    return dx_.data();
  }

 private:
  Buffer<float> y_, dx_;
};

// ---- BatchNorm (PyTorch BatchNorm2d after a conv, BatchNorm1d after a dense layer) --------------------
// weight = gamma (C), bias = beta (C); state running_mean, running_var (C). Training normalises with the
// batch's statistics and updates the running ones (momentum 0.1, eps 1e-5, PyTorch's defaults);
// inference uses the running ones; recalibration (StepContext::recalibrate) only updates them.
class BatchNorm final : public Layer {
 public:
  static constexpr float kEps = 1e-5f;
  BatchNorm(const LayerSpec& s, Dims in) {
    spec_ = s, in_ = in, out_ = in;
    DIGITS_CHECK(in.size() > 0, "batchnorm needs an input");
    params_.push_back({"weight", {in.c}, 0});
    params_.push_back({"bias", {in.c}, size_t(in.c)});
    state_.push_back({"running_mean", {in.c}, 0});
    state_.push_back({"running_var", {in.c}, size_t(in.c)});
  }
  void setup(Backend& be, int max_batch, float* p, float* g, bool need_dx) override {
    gamma_ = p, beta_ = p + in_.c, dgamma_ = g, dbeta_ = g + in_.c;
    y_ = Buffer<float>(be, size_t(max_batch) * out_.size());
    mean_ = Buffer<float>(be, size_t(in_.c));
    inv_std_ = Buffer<float>(be, size_t(in_.c));
    dx_ = Buffer<float>(be, size_t(max_batch) * in_.size());  // backward needs dx even for a first layer's grads
    need_dx_ = need_dx;
  }
  void bind_state(float* state) override { running_mean_ = state, running_var_ = state + in_.c; }
  const float* forward(Backend& be, const float* x, int N, const StepContext& ctx) override {
    DIGITS_CHECK(running_mean_, "batchnorm: state not bound");
    const int HW = in_.h * in_.w;
    if (ctx.train || ctx.recalibrate) {
      DIGITS_CHECK(N * HW > 1, "batchnorm: training needs more than one value per channel (batch of " << N << ")");
      x_ = ctx.recalibrate ? nullptr : x;
      be.batchnorm_forward_train(N, in_.c, HW, kEps, ctx.bn_momentum, x, gamma_, beta_, y_.data(), mean_.data(),
                                 inv_std_.data(), running_mean_, running_var_);
    } else {
      be.batchnorm_forward_infer(N, in_.c, HW, kEps, x, gamma_, beta_, running_mean_, running_var_, y_.data());
    }
    return y_.data();
  }
  const float* backward(Backend& be, const float* dy, int N, const StepContext& ctx) override {
    DIGITS_CHECK(ctx.train && x_, "batchnorm backward without a training forward");
    be.batchnorm_backward(N, in_.c, in_.h * in_.w, x_, dy, gamma_, mean_.data(), inv_std_.data(), dx_.data(), dgamma_,
                          dbeta_);
    return need_dx_ ? dx_.data() : nullptr;
  }

 private:
  float *gamma_ = nullptr, *beta_ = nullptr, *dgamma_ = nullptr, *dbeta_ = nullptr;
  float *running_mean_ = nullptr, *running_var_ = nullptr;
  const float* x_ = nullptr;
  bool need_dx_ = true;
  Buffer<float> y_, dx_, mean_, inv_std_;
};

}  // namespace

std::unique_ptr<Layer> make_layer(const LayerSpec& spec, Dims in) {
  switch (spec.kind) {
    case LayerSpec::Kind::Conv: return std::make_unique<Conv2d>(spec, in);
    case LayerSpec::Kind::Relu: return std::make_unique<Relu>(spec, in);
    case LayerSpec::Kind::MaxPool: return std::make_unique<MaxPool>(spec, in);
    case LayerSpec::Kind::Flatten: return std::make_unique<Flatten>(spec, in);
    case LayerSpec::Kind::Dense: return std::make_unique<Dense>(spec, in);
    case LayerSpec::Kind::Dropout: return std::make_unique<Dropout>(spec, in);
    case LayerSpec::Kind::BatchNorm: return std::make_unique<BatchNorm>(spec, in);
  }
  DIGITS_FAIL("unknown layer kind");
}

}  // namespace digits
