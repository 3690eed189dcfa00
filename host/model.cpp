// Network spec parsing and Model: layers over one flat parameter buffer and one flat gradient
// buffer (so optimizers update everything in one call).
#include "model.h"

#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>

#include "error.h"

namespace digits {

// ---- spec ---------------------------------------------------------------------------------------------
namespace {

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

int to_int(const std::string& s, const std::string& token) {
  size_t used = 0;
  int v = 0;
  try {
    v = std::stoi(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  DIGITS_CHECK(used == s.size() && v > 0 && v <= 65536, "spec token '" << token << "': '" << s << "' is not a positive integer");
  return v;
}

}  // namespace

NetSpec NetSpec::parse(const std::string& text) {
  NetSpec spec;
  std::istringstream is(text);
  std::string token;
  while (is >> token) {
    std::string name;
    const auto args = split_args(token, &name);
    LayerSpec l;
    auto want = [&](size_t lo, size_t hi) {
      DIGITS_CHECK(args.size() >= lo && args.size() <= hi,
                   "spec token '" << token << "': expected " << lo << (lo == hi ? "" : " to " + std::to_string(hi)) << " arguments");
    };
    if (name == "conv") {
      want(2, 3);
      l.kind = LayerSpec::Kind::Conv;
      l.units = to_int(args[0], token);
      l.kernel = to_int(args[1], token);
      if (args.size() == 3) {
        DIGITS_CHECK(args[2] == "same" || args[2] == "valid", "spec token '" << token << "': padding must be same or valid");
        l.same = args[2] == "same";
      }
    } else if (name == "relu") {
      want(0, 0);
      l.kind = LayerSpec::Kind::Relu;
    } else if (name == "maxpool") {
      want(1, 1);
      l.kind = LayerSpec::Kind::MaxPool;
      l.kernel = to_int(args[0], token);
    } else if (name == "flatten") {
      want(0, 0);
      l.kind = LayerSpec::Kind::Flatten;
    } else if (name == "dense") {
      want(1, 1);
      l.kind = LayerSpec::Kind::Dense;
      l.units = to_int(args[0], token);
    } else if (name == "batchnorm") {
      want(0, 0);
      l.kind = LayerSpec::Kind::BatchNorm;
    } else if (name == "dropout") {
      want(1, 1);
      l.kind = LayerSpec::Kind::Dropout;
      char* end = nullptr;
      l.rate = std::strtof(args[0].c_str(), &end);
      DIGITS_CHECK(end && *end == 0 && l.rate >= 0.f && l.rate < 1.f, "spec token '" << token << "': rate must be in [0, 1)");
    } else {
      DIGITS_FAIL("unknown layer '" << token << "' in spec: use conv(K,R[,same]) relu maxpool(S) flatten dense(N) dropout(rate) batchnorm");
    }
    spec.layers.push_back(l);
  }
  DIGITS_CHECK(!spec.layers.empty(), "empty network spec");
  DIGITS_CHECK(spec.layers.back().kind == LayerSpec::Kind::Dense, "a network spec must end with dense(classes): '" << text << "'");
  return spec;
}

std::string NetSpec::text() const {
  std::string s;
  for (const auto& l : layers) {
    if (!s.empty()) s += ' ';
    s += l.text();
  }
  return s;
}

// ---- Model --------------------------------------------------------------------------------------------
namespace {
// Sanity limits on what a spec may ask for, checked before anything is allocated, so that a spec of a few
// bytes (typed, or in a hostile model file) cannot make us allocate and touch tens of gigabytes. The
// presets use about 1.2 M parameters and 1 MB of activations per image: the limits leave ample room.
constexpr size_t kMaxParams = size_t(1) << 28;                  // 1 GiB of float32 weights
constexpr size_t kMaxActivationFloatsPerImage = size_t(1) << 28;  // 1 GiB of activations per image

// Adds one layer's parameters and per-image activations (its outputs and input gradients: an upper bound
// of what setup() allocates) to the running totals, and throws once they pass the limits. `prefix` is
// prepended to the message (a model file's path).
void count_layer(const Layer& l, const NetSpec& spec, const std::string& prefix, size_t& params, size_t& activations) {
  auto tensors = l.params();
  tensors.insert(tensors.end(), l.state().begin(), l.state().end());
  for (const auto& p : tensors) {
    size_t n = 1;  // p.size() could wrap: conv(65536,65536,same) after 65536 channels has 2^64 weights
    for (int64_t dim : p.shape)
      if (__builtin_mul_overflow(n, size_t(dim), &n)) n = SIZE_MAX;
    params = n > SIZE_MAX - params ? SIZE_MAX : params + n;
  }
  activations += l.in_dims().size() + l.out_dims().size();
  DIGITS_CHECK(params <= kMaxParams, prefix << "network spec '" << spec.text().substr(0, 200) << "' needs more than "
                                            << kMaxParams << " parameters (the limit): make the layers smaller");
  DIGITS_CHECK(activations <= kMaxActivationFloatsPerImage,
               prefix << "network spec '" << spec.text().substr(0, 200) << "' needs more than "
                      << kMaxActivationFloatsPerImage << " activation values per image (the limit): use fewer or smaller layers");
}
}  // namespace

Model::Model(Backend& be, const NetSpec& spec, int max_batch) : be_(be), spec_(spec), max_batch_(max_batch) {
  DIGITS_CHECK(max_batch > 0, "max_batch must be positive");
  Dims d = spec.input;
  std::vector<size_t> offsets, state_offsets;
  size_t activations = 0, counted = 0;
  for (const auto& ls : spec.layers) {
    layers_.push_back(make_layer(ls, d));
    d = layers_.back()->out_dims();
    offsets.push_back(param_count_);
    state_offsets.push_back(state_count_);
    count_layer(*layers_.back(), spec, "", counted, activations);
    for (const auto& p : layers_.back()->params()) param_count_ += p.size();
    for (const auto& p : layers_.back()->state()) state_count_ += p.size();
  }
  params_ = Buffer<float>(be, param_count_);
  grads_ = Buffer<float>(be, param_count_);
  state_ = Buffer<float>(be, state_count_);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const bool has = !layers_[i]->params().empty();
    layers_[i]->setup(be, max_batch, has ? params_.data() + offsets[i] : nullptr,
                      has ? grads_.data() + offsets[i] : nullptr, /*need_dx=*/i > 0);
    if (!layers_[i]->state().empty()) layers_[i]->bind_state(state_.data() + state_offsets[i]);
  }
  reset_state();
}

void Model::reset_state() {
  std::vector<float> h(state_count_, 0.f);
  size_t base = 0;
  for (const auto& l : layers_) {
    for (const auto& p : l->state())
      if (p.name == "running_var") std::fill_n(h.begin() + long(base + p.offset), p.size(), 1.f);
    for (const auto& p : l->state()) base += p.size();
  }
  state_.upload(h);
}

Model::~Model() = default;

void Model::set_input_scale(float s) {
  DIGITS_CHECK(std::isfinite(s) && s > 0.f && s <= 1.f, "input scale " << s << " outside (0, 1]");
  input_scale_ = s;
}

void Model::init(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<float> h(param_count_, 0.f);
  size_t base = 0;
  for (const auto& l : layers_) {
    for (const auto& p : l->params()) {
      if (l->spec().kind == LayerSpec::Kind::BatchNorm) {
        // gamma 1, beta 0: the layer starts as a plain normalisation.
        if (p.name == "weight") std::fill_n(h.begin() + long(base + p.offset), p.size(), 1.f);
      } else if (p.name == "weight") {
        // Glorot uniform as Keras: limit = sqrt(6 / (fan_in + fan_out)), receptive field counted in both.
        const int64_t rf = p.shape.size() == 4 ? p.shape[2] * p.shape[3] : 1;
        const double fan_in = double(p.shape[1] * rf), fan_out = double(p.shape[0] * rf);
        std::uniform_real_distribution<float> u(-1.f, 1.f);
        const float limit = float(std::sqrt(6.0 / (fan_in + fan_out)));
        for (size_t i = 0; i < p.size(); ++i) h[base + p.offset + i] = limit * u(rng);
      }
    }
    for (const auto& p : l->params()) base += p.size();
  }
  params_.upload(h);
  reset_state();
}

uint64_t Model::layer_seed(uint64_t step_seed, size_t layer) const {
  // splitmix64 of (step seed, layer): independent dropout streams per layer and step.
  uint64_t z = step_seed + 0x9E3779B97F4A7C15ull * (layer + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

const float* Model::forward(const float* x, int N, bool train, uint64_t step_seed) {
  DIGITS_CHECK(N > 0 && N <= max_batch_, "batch of " << N << " images exceeds the model's " << max_batch_);
  const float* a = x;
  for (size_t i = 0; i < layers_.size(); ++i) a = layers_[i]->forward(be_, a, N, {train, layer_seed(step_seed, i)});
  return a;
}

void Model::recalibrate_batchnorm(const float* x, int N, float momentum) {
  DIGITS_CHECK(N > 0 && N <= max_batch_, "batch of " << N << " images exceeds the model's " << max_batch_);
  DIGITS_CHECK(momentum > 0.f && momentum <= 1.f, "batch-norm momentum " << momentum << " outside (0, 1]");
  StepContext ctx;
  ctx.recalibrate = true;
  ctx.bn_momentum = momentum;
  const float* a = x;
  for (const auto& l : layers_) a = l->forward(be_, a, N, ctx);
}

bool Model::has_batchnorm() const {
  for (const auto& l : layers_)
    if (l->spec().kind == LayerSpec::Kind::BatchNorm) return true;
  return false;
}

void Model::backward(const float* dlogits, int N, uint64_t step_seed) {
  const float* d = dlogits;
  for (size_t i = layers_.size(); i-- > 0;) d = layers_[i]->backward(be_, d, N, {true, layer_seed(step_seed, i)});
}

std::vector<NamedTensor> Model::export_params() const {
  const std::vector<float> h = params_.download(), hs = state_.download();
  std::vector<NamedTensor> out;
  size_t base = 0, state_base = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    for (const auto& p : layers_[i]->params()) {
      NamedTensor t{std::to_string(i) + "." + p.name, p.shape, {}};
      t.data.assign(h.begin() + long(base + p.offset), h.begin() + long(base + p.offset + p.size()));
      out.push_back(std::move(t));
    }
    for (const auto& p : layers_[i]->state()) {
      NamedTensor t{std::to_string(i) + "." + p.name, p.shape, {}};
      t.data.assign(hs.begin() + long(state_base + p.offset), hs.begin() + long(state_base + p.offset + p.size()));
      out.push_back(std::move(t));
    }
    for (const auto& p : layers_[i]->params()) base += p.size();
    for (const auto& p : layers_[i]->state()) state_base += p.size();
  }
  return out;
}

void Model::import_params(const ModelFile& file, const std::string& path) {
  std::vector<float> h(param_count_), hs(state_count_);
  size_t base = 0, state_base = 0;
  auto take = [&](size_t i, const ParamInfo& p, std::vector<float>& dst, size_t at) {
    const std::string name = std::to_string(i) + "." + p.name;
    const NamedTensor* t = file.find(name);
    DIGITS_CHECK(t, path << ": tensor '" << name << "' required by the spec is missing");
    DIGITS_CHECK(t->shape == p.shape, path << ": tensor '" << name << "' has the wrong shape for layer "
                                            << layers_[i]->spec().text());
    for (float v : t->data) DIGITS_CHECK(std::isfinite(v), path << ": tensor '" << name << "' holds NaN or Inf");
    if (p.name == "running_var")
      for (float v : t->data) DIGITS_CHECK(v >= 0.f, path << ": tensor '" << name << "' holds a negative variance");
    std::copy(t->data.begin(), t->data.end(), dst.begin() + long(at));
  };
  for (size_t i = 0; i < layers_.size(); ++i) {
    for (const auto& p : layers_[i]->params()) take(i, p, h, base + p.offset);
    for (const auto& p : layers_[i]->state()) take(i, p, hs, state_base + p.offset);
    for (const auto& p : layers_[i]->params()) base += p.size();
    for (const auto& p : layers_[i]->state()) state_base += p.size();
  }
  params_.upload(h);
  state_.upload(hs);
}

std::unique_ptr<Model> load_model(Backend& be, const std::string& path, int max_batch, ModelFile* file_out) {
  ModelFile file = load_model_file(path);
  auto it = file.metadata.find(meta::kSpec);
  DIGITS_CHECK(it != file.metadata.end(), path << ": not a digits model (no 'spec' in the metadata)");
  NetSpec spec;
  try {
    spec = NetSpec::parse(it->second);
  } catch (const Error& e) {
    DIGITS_FAIL(path << ": bad network spec in metadata: " << e.what());
  }
  // Every tensor the spec needs is in the file with the right shape, and the network is within the size
  // limits, checked before the model allocates anything: a spec of a few bytes in a hostile file must not
  // cost gigabytes.
  Dims d = spec.input;
  size_t params = 0, activations = 0;
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    std::unique_ptr<Layer> layer;
    try {
      layer = make_layer(spec.layers[i], d);  // shapes only: buffers come with setup()
    } catch (const Error& e) {
      DIGITS_FAIL(path << ": bad network spec in metadata: " << e.what());
    }
    auto tensors = layer->params();
    tensors.insert(tensors.end(), layer->state().begin(), layer->state().end());
    for (const auto& p : tensors) {
      const std::string name = std::to_string(i) + "." + p.name;
      const NamedTensor* t = file.find(name);
      DIGITS_CHECK(t, path << ": tensor '" << name << "' required by the spec is missing");
      DIGITS_CHECK(t->shape == p.shape, path << ": tensor '" << name << "' has the wrong shape for layer "
                                              << layer->spec().text());
    }
    count_layer(*layer, spec, path + ": ", params, activations);
    d = layer->out_dims();
  }
  auto model = std::make_unique<Model>(be, spec, max_batch);
  DIGITS_CHECK(model->num_classes() == 10, path << ": the network has " << model->num_classes() << " outputs, not 10");
  model->import_params(file, path);
  if (file_out) *file_out = std::move(file);
  return model;
}

}  // namespace digits
