// Network spec parsing and Model: layers over one flat parameter buffer and one flat gradient
// buffer (so optimizers update everything in one call).
#include "model.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>

#include "error.h"

namespace digits {

// ---- spec ---------------------------------------------------------------------------------------------
NetSpec NetSpec::parse(const std::string& text) {
  NetSpec spec;
  std::istringstream is(text);
  std::string token;
  while (is >> token) spec.layers.push_back(LayerSpec::parse(token));
  DIGITS_CHECK(!spec.layers.empty(), "empty network spec");
  DIGITS_CHECK(spec.layers.back().kind == "dense", "a network spec must end with dense(classes): '" << text << "'");
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

// ---- layout -------------------------------------------------------------------------------------------
namespace {
// Sanity limits on what a spec may ask for, checked before anything is allocated, so that a spec of a few
// bytes (typed, or in a hostile model file) cannot make us allocate and touch tens of gigabytes. The
// presets use about 1.2 M parameters and 1 MB of activations per image: the limits leave ample room.
constexpr size_t kMaxParams = size_t(1) << 28;                  // 1 GiB of float32 weights
constexpr size_t kMaxActivationFloatsPerImage = size_t(1) << 28;  // 1 GiB of activations per image

size_t saturating_add(size_t a, size_t b) { return b > SIZE_MAX - a ? SIZE_MAX : a + b; }

// product(shape), SIZE_MAX when it does not fit: conv(65536,65536,same) after 65536 channels has 2^64 weights.
size_t saturating_size(const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (int64_t dim : shape)
    if (__builtin_mul_overflow(n, size_t(dim), &n)) return SIZE_MAX;
  return n;
}
}  // namespace

// Execution order of the spec's layers. "relu maxpool(k)" runs as "maxpool(k) relu": max and ReLU
// commute exactly (ReLU is monotone), forward and backward, bit for bit (a window whose maximum is not
// positive passes no gradient either way), and the ReLU then reads and writes a k*k-th of the values. Both
// have no parameters, so every tensor keeps its spec index and name.
namespace {
std::vector<size_t> execution_order(const NetSpec& spec, bool reorder) {
  std::vector<size_t> order(spec.layers.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (size_t i = 0; reorder && i + 1 < order.size(); ++i)
    if (spec.layers[i].kind == "relu" && spec.layers[i + 1].kind == "maxpool") std::swap(order[i], order[i + 1]), ++i;
  return order;
}
}  // namespace

NetLayout NetLayout::plan(const NetSpec& spec, bool reorder) {
  NetLayout out;
  Dims d = spec.input;
  for (size_t i : execution_order(spec, reorder)) {
    out.layers.push_back(make_layer(spec.layers[i], d));  // shapes only: buffers come with setup()
    const Layer& l = *out.layers.back();
    d = l.out_dims();
    out.param_base.push_back(out.param_count);
    out.state_base.push_back(out.state_count);
    out.bind(i, l.params(), true);
    out.bind(i, l.state(), false);
  }
  return out;
}

void NetLayout::bind(size_t layer, const std::vector<ParamInfo>& infos, bool trainable) {
  size_t& count = trainable ? param_count : state_count;
  const size_t base = count;
  for (const ParamInfo& p : infos) {
    const size_t n = saturating_size(p.shape);
    tensors.push_back({std::to_string(layer) + "." + p.name, p.name, p.shape, layer, trainable,
                       saturating_add(base, p.offset), n});
    count = saturating_add(count, n);
  }
}

void NetLayout::check_limits(const NetSpec& spec, const std::string& prefix) const {
  size_t params = 0, activations = 0;  // parameters and state; per-image outputs and input gradients
  auto t = tensors.begin();
  for (size_t i = 0; i < layers.size(); ++i) {
    for (; t != tensors.end() && t->layer == i; ++t) params = saturating_add(params, t->size);
    activations += layers[i]->in_dims().size() + layers[i]->out_dims().size();
    DIGITS_CHECK(params <= kMaxParams, prefix << "network spec '" << spec.text().substr(0, 200) << "' needs more than "
                                              << kMaxParams << " parameters (the limit): make the layers smaller");
    DIGITS_CHECK(activations <= kMaxActivationFloatsPerImage,
                 prefix << "network spec '" << spec.text().substr(0, 200) << "' needs more than "
                        << kMaxActivationFloatsPerImage << " activation values per image (the limit): use fewer or smaller layers");
  }
}

// ---- Model --------------------------------------------------------------------------------------------
Model::Model(Backend& be, const NetSpec& spec, int max_batch)
    : Model(be, spec, NetLayout::plan(spec), max_batch) {}

Model::Model(Backend& be, const NetSpec& spec, NetLayout layout, int max_batch)
    : be_(be), spec_(spec), max_batch_(max_batch) {
  DIGITS_CHECK(max_batch > 0, "max_batch must be positive");
  layout.check_limits(spec, "");
  layers_ = std::move(layout.layers);
  tensors_ = std::move(layout.tensors);
  param_count_ = layout.param_count;
  state_count_ = layout.state_count;
  params_ = Buffer<float>(be, param_count_);
  grads_ = Buffer<float>(be, param_count_);
  state_ = Buffer<float>(be, state_count_);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const bool has = !layers_[i]->params().empty();
    layers_[i]->setup(be, max_batch, has ? params_.data() + layout.param_base[i] : nullptr,
                      has ? grads_.data() + layout.param_base[i] : nullptr, /*need_dx=*/i > 0);
    if (!layers_[i]->state().empty()) layers_[i]->bind_state(state_.data() + layout.state_base[i]);
  }
  reset_state();
}

void Model::reset_state() {
  std::vector<float> h(state_count_, 0.f);
  for (const TensorBinding& b : tensors_)
    if (!b.trainable && b.tensor == "running_var") std::fill_n(h.begin() + long(b.offset), b.size, 1.f);
  state_.upload(h);
}

Model::~Model() = default;

void Model::set_input_scale(float s) {
  DIGITS_CHECK(std::isfinite(s) && s > 0.f && s <= 1.f, "input scale " << s << " outside (0, 1]");
  input_scale_ = s;
}

void Model::init(uint64_t seed) {
  std::mt19937_64 rng(seed);  // one stream over the weights in file order
  std::vector<float> h(param_count_, 0.f);
  for (const TensorBinding& b : tensors_) {
    if (!b.trainable || b.tensor != "weight") continue;  // biases (batch norm's beta too) start at 0
    float* w = h.data() + b.offset;
    if (layers_[b.layer]->spec().kind == "batchnorm") {
      std::fill_n(w, b.size, 1.f);  // gamma 1: the layer starts as a plain normalisation
      continue;
    }
    // Glorot uniform as Keras: limit = sqrt(6 / (fan_in + fan_out)), receptive field counted in both.
    const int64_t rf = b.shape.size() == 4 ? b.shape[2] * b.shape[3] : 1;
    const double fan_in = double(b.shape[1] * rf), fan_out = double(b.shape[0] * rf);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    const float limit = float(std::sqrt(6.0 / (fan_in + fan_out)));
    for (size_t i = 0; i < b.size; ++i) w[i] = limit * u(rng);
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
    if (l->spec().kind == "batchnorm") return true;
  return false;
}

void Model::backward(const float* dlogits, int N, uint64_t step_seed) {
  const float* d = dlogits;
  for (size_t i = layers_.size(); i-- > 0;) d = layers_[i]->backward(be_, d, N, {true, layer_seed(step_seed, i)});
}

namespace {
// The file's tensor for binding b, checked by name and shape; `layer` names the layer in the message.
const NamedTensor& bound_tensor(const ModelFile& file, const TensorBinding& b, const Layer& layer, const std::string& path) {
  const NamedTensor* t = file.find(b.name);
  DIGITS_CHECK(t, path << ": tensor '" << b.name << "' required by the spec is missing");
  DIGITS_CHECK(t->shape == b.shape, path << ": tensor '" << b.name << "' has the wrong shape for layer " << layer.spec().text());
  return *t;
}
}  // namespace

std::vector<NamedTensor> Model::export_params() const {
  const std::vector<float> h = params_.download(), hs = state_.download();
  std::vector<NamedTensor> out;
  for (const TensorBinding& b : tensors_) {
    const auto first = (b.trainable ? h : hs).begin() + long(b.offset);
    out.push_back({b.name, b.shape, std::vector<float>(first, first + long(b.size))});
  }
  return out;
}

void Model::import_params(const ModelFile& file, const std::string& path) {
  std::vector<float> h(param_count_), hs(state_count_);
  for (const TensorBinding& b : tensors_) {
    const NamedTensor& t = bound_tensor(file, b, *layers_[b.layer], path);
    for (float v : t.data) DIGITS_CHECK(std::isfinite(v), path << ": tensor '" << b.name << "' holds NaN or Inf");
    if (b.tensor == "running_var")
      for (float v : t.data) DIGITS_CHECK(v >= 0.f, path << ": tensor '" << b.name << "' holds a negative variance");
    std::copy(t.data.begin(), t.data.end(), (b.trainable ? h : hs).begin() + long(b.offset));
  }
  params_.upload(h);
  state_.upload(hs);
}

namespace {
// The network a model file describes, and its layout; errors name the file.
NetSpec spec_of(const ModelFile& file, const std::string& path, NetLayout* layout) {
  auto it = file.metadata.find(meta::kSpec);
  DIGITS_CHECK(it != file.metadata.end(), path << ": not a digits model (no 'spec' in the metadata)");
  try {
    NetSpec spec = NetSpec::parse(it->second);
    *layout = NetLayout::plan(spec);
    return spec;
  } catch (const Error& e) {
    DIGITS_FAIL(path << ": bad network spec in metadata: " << e.what());
  }
}

// The file's "input_scale" (x = pixel * scale); files without one were trained with the default.
float input_scale_of(const ModelFile& file, const std::string& path) {
  auto it = file.metadata.find(meta::kInputScale);
  if (it == file.metadata.end()) return kDefaultInputScale;
  const std::string& s = it->second;
  float v = 0.f;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);  // locale-independent
  DIGITS_CHECK(ec == std::errc() && end == s.data() + s.size() && std::isfinite(v) && v > 0.f && v <= 1.f,
               path << ": metadata input_scale '" << s.substr(0, 40)
                    << "' is not a number in (0, 1]: the file is damaged; train or re-save the model");
  return v;
}
}  // namespace

std::unique_ptr<Model> load_model(Backend& be, const std::string& path, int max_batch, ModelFile* file_out) {
  ModelFile file = load_model_file(path);
  NetLayout layout;
  const NetSpec spec = spec_of(file, path, &layout);
  // Every tensor the spec needs is in the file with the right shape, and the network is within the size
  // limits, checked before the model allocates anything: a spec of a few bytes in a hostile file must not
  // cost gigabytes.
  for (const TensorBinding& b : layout.tensors) bound_tensor(file, b, *layout.layers[b.layer], path);
  layout.check_limits(spec, path + ": ");
  const float scale = input_scale_of(file, path);
  auto model = std::make_unique<Model>(be, spec, std::move(layout), max_batch);
  DIGITS_CHECK(model->num_classes() == 10, path << ": the network has " << model->num_classes() << " outputs, not 10");
  model->import_params(file, path);
  model->set_input_scale(scale);
  if (file_out) *file_out = std::move(file);
  return model;
}

}  // namespace digits
