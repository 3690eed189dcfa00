// Conv2d, ReLU, MaxPool2d, Flatten, Dense, Dropout and BatchNorm: shape checks and buffers (the Backend
// computes), and the table of layer kinds that the spec parser, LayerSpec::text() and make_layer read.
#include "layers.h"

#include <cstdlib>
#include <sstream>

#include "error.h"

namespace digits {

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

// ---- Global average pooling: (C, H, W) -> (C, 1, 1), each channel's mean (PyTorch AdaptiveAvgPool2d(1)
// then flatten; Keras GlobalAveragePooling2D). No parameters. ------------------------------------------
class Gap final : public Layer {
 public:
  Gap(const LayerSpec& s, Dims in) {
    spec_ = s, in_ = in, out_ = {in.c, 1, 1};
    DIGITS_CHECK(in.h * in.w > 0, "gap needs a (C, H, W) input: " << in.c << "x" << in.h << "x" << in.w);
  }
  void setup(Backend& be, int max_batch, float*, float*, bool need_dx) override {
    y_ = Buffer<float>(be, size_t(max_batch) * out_.size());
    if (need_dx) dx_ = Buffer<float>(be, size_t(max_batch) * in_.size());
  }
  const float* forward(Backend& be, const float* x, int N, const StepContext&) override {
    be.gap_forward(N, in_.c, in_.h * in_.w, x, y_.data());
    return y_.data();
  }
  const float* backward(Backend& be, const float* dy, int N, const StepContext&) override {
    if (!dx_.data()) return nullptr;
    be.gap_backward(N, in_.c, in_.h * in_.w, dy, dx_.data());
    return dx_.data();
  }

 private:
  Buffer<float> y_, dx_;
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
  static constexpr float kEps = kBatchNormEps;
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

// ---- the layer kinds: one row each ---------------------------------------------------------------------
// Adding a kind: its class above and one row in kKinds. The spec parser, text()
// and the "unknown layer" message follow the table.

// A spec token's arguments, e.g. {"32", "5"} for "conv(32,5)", read with messages naming the token.
struct Args {
  const std::vector<std::string>& values;
  const std::string& token;

  int positive_int(size_t i) const {
    const std::string& s = values[i];
    size_t used = 0;
    int v = 0;
    try {
      v = std::stoi(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    DIGITS_CHECK(used == s.size() && v > 0 && v <= 65536,
                 "spec token '" << token << "': '" << s << "' is not a positive integer");
    return v;
  }
};

struct KindRow {
  const char* name;   // in the spec, and LayerSpec::kind
  const char* usage;  // in the "unknown layer" message
  size_t min_args, max_args;
  void (*read)(const Args&, LayerSpec&);              // the arguments into the spec; null: none
  void (*write)(const LayerSpec&, std::ostream&);     // "(...)" after the name; null: none
  std::unique_ptr<Layer> (*make)(const LayerSpec&, Dims in);
};

template <class L>
std::unique_ptr<Layer> make(const LayerSpec& s, Dims in) {
  return std::make_unique<L>(s, in);
}

void read_conv(const Args& a, LayerSpec& l) {
  l.units = a.positive_int(0);
  l.kernel = a.positive_int(1);
  if (a.values.size() == 3) {
    DIGITS_CHECK(a.values[2] == "same" || a.values[2] == "valid", "spec token '" << a.token << "': padding must be same or valid");
    l.same = a.values[2] == "same";
  }
}

void read_dropout(const Args& a, LayerSpec& l) {
  char* end = nullptr;
  l.rate = std::strtof(a.values[0].c_str(), &end);
  DIGITS_CHECK(end && *end == 0 && l.rate >= 0.f && l.rate < 1.f, "spec token '" << a.token << "': rate must be in [0, 1)");
}

// clang-format off
const KindRow kKinds[] = {
  {"conv", "conv(K,R[,same])", 2, 3, read_conv,
   [](const LayerSpec& l, std::ostream& os) { os << "(" << l.units << "," << l.kernel << (l.same ? ",same" : "") << ")"; },
   make<Conv2d>},
  {"relu", "relu", 0, 0, nullptr, nullptr, make<Relu>},
  {"maxpool", "maxpool(S)", 1, 1,
   [](const Args& a, LayerSpec& l) { l.kernel = a.positive_int(0); },
   [](const LayerSpec& l, std::ostream& os) { os << "(" << l.kernel << ")"; },
   make<MaxPool>},
  {"flatten", "flatten", 0, 0, nullptr, nullptr, make<Flatten>},
  {"dense", "dense(N)", 1, 1,
   [](const Args& a, LayerSpec& l) { l.units = a.positive_int(0); },
   [](const LayerSpec& l, std::ostream& os) { os << "(" << l.units << ")"; },
   make<Dense>},
  {"dropout", "dropout(rate)", 1, 1, read_dropout,
   [](const LayerSpec& l, std::ostream& os) { os << "(" << l.rate << ")"; },
   make<Dropout>},
  {"batchnorm", "batchnorm", 0, 0, nullptr, nullptr, make<BatchNorm>},
  {"gap", "gap", 0, 0, nullptr, nullptr, make<Gap>},
};
// clang-format on

const KindRow& row_of(const std::string& kind) {
  for (const KindRow& r : kKinds)
    if (kind == r.name) return r;
  DIGITS_FAIL("unknown layer kind '" << kind << "': add its row to kKinds in layers.cpp");
}

// "conv(32,5)" -> name "conv", arguments {"32", "5"}; "relu" -> "relu", {}.
std::vector<std::string> split_args(const std::string& token, std::string* name) {
  const auto open = token.find('(');
  std::vector<std::string> args;
  if (open == std::string::npos) {
    *name = token;
    return args;
  }
  DIGITS_CHECK(token.back() == ')', "spec token '" << token << "' lacks its closing ')'");
  *name = token.substr(0, open);
  std::string inner = token.substr(open + 1, token.size() - open - 2), cur;
  std::istringstream is(inner);
  while (std::getline(is, cur, ',')) args.push_back(cur);
  return args;
}

}  // namespace

std::string LayerSpec::text() const {
  const KindRow& row = row_of(kind);
  std::ostringstream os;
  os << row.name;
  if (row.write) row.write(*this, os);
  return os.str();
}

LayerSpec LayerSpec::parse(const std::string& token) {
  std::string name;
  const auto values = split_args(token, &name);
  for (const KindRow& row : kKinds) {
    if (name != row.name) continue;
    const size_t lo = row.min_args, hi = row.max_args;
    DIGITS_CHECK(values.size() >= lo && values.size() <= hi,
                 "spec token '" << token << "': expected " << lo << (lo == hi ? "" : " to " + std::to_string(hi)) << " arguments");
    LayerSpec l;
    l.kind = row.name;
    if (row.read) row.read(Args{values, token}, l);
    return l;
  }
  std::string kinds;
  for (const KindRow& row : kKinds) kinds += std::string(kinds.empty() ? "" : " ") + row.usage;
  DIGITS_FAIL("unknown layer '" << token << "' in spec: use " << kinds);
}

std::unique_ptr<Layer> make_layer(const LayerSpec& spec, Dims in) { return row_of(spec.kind).make(spec, in); }

}  // namespace digits
