// The op harness's machinery: input factories, running a case on a backend and comparing two runs.
#include "harness/op_harness.h"

#include <cmath>
#include <limits>
#include <random>
#include <sstream>

#include "reference/reference_impl.h"

namespace digits::harness {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return sizeof(float);
    case DType::I32: return sizeof(int32_t);
    case DType::U8: return sizeof(uint8_t);
    case DType::F64: return sizeof(double);
  }
  return 1;
}

namespace {

// Sets element i of t to v, converted to t's type.
void put(HostTensor& t, size_t i, double v) {
  switch (t.type) {
    case DType::F32: t.as<float>()[i] = float(v); break;
    case DType::I32: t.as<int32_t>()[i] = int32_t(v); break;
    case DType::U8: t.as<uint8_t>()[i] = uint8_t(v); break;
    case DType::F64: t.as<double>()[i] = v; break;
  }
}

double get(const HostTensor& t, size_t i) {
  switch (t.type) {
    case DType::F32: return t.as<float>()[i];
    case DType::I32: return t.as<int32_t>()[i];
    case DType::U8: return t.as<uint8_t>()[i];
    case DType::F64: return t.as<double>()[i];
  }
  return 0;
}

template <class Gen>
Factory each(Gen gen) {
  return [gen](HostTensor& t, uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (size_t i = 0; i < t.count(); ++i) put(t, i, gen(rng, i));
  };
}

}  // namespace

Factory uniform(double lo, double hi) {
  return each([lo, hi](std::mt19937_64& rng, size_t) { return std::uniform_real_distribution<double>(lo, hi)(rng); });
}
Factory labels(int K) {
  return each([K](std::mt19937_64& rng, size_t) { return double(rng() % uint64_t(K)); });
}
Factory indices(int count) {
  return each([count](std::mt19937_64& rng, size_t i) { return i == 0 ? double(count - 1) : double(rng() % uint64_t(count)); });
}
Factory random_bytes() {
  return each([](std::mt19937_64& rng, size_t) { return double(rng() & 255u); });
}
Factory constant(double v) {
  return each([v](std::mt19937_64&, size_t) { return v; });
}
Factory poison() {
  return [](HostTensor& t, uint64_t) {
    const bool integer = t.type == DType::I32 || t.type == DType::U8;
    for (size_t i = 0; i < t.count(); ++i) put(t, i, integer ? -12345.0 : std::numeric_limits<double>::quiet_NaN());
  };
}
Factory huge_logits(double lo, double hi) {
  return [inner = uniform(lo, hi)](HostTensor& t, uint64_t seed) {
    inner(t, seed);
    if (t.count() > 0) put(t, 0, 1e30);
    if (t.count() > 1) put(t, 1, -1e30);
  };
}
Factory ties(double lo, double hi) {
  return each([lo, hi](std::mt19937_64& rng, size_t) { return std::round(std::uniform_real_distribution<double>(lo, hi)(rng)); });
}
Factory maxpool_argmax(const PoolShape& s) {
  return [s](HostTensor& t, uint64_t seed) {
    HostTensor x{DType::F32, std::vector<unsigned char>(s.in_size() * sizeof(float))};
    uniform(-1, 1)(x, seed);
    std::vector<float> y(s.out_size());
    reference::typed::maxpool_forward<float>(s, x.as<float>(), y.data(), t.as<int32_t>());
  };
}

std::string OpCase::name() const {
  std::string n = op + "_" + label;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

std::vector<HostTensor> make_tensors(const OpCase& c, uint64_t seed) {
  std::vector<HostTensor> out;
  for (size_t i = 0; i < c.tensors.size(); ++i) {
    const TensorSpec& t = c.tensors[i];
    HostTensor h{t.type, std::vector<unsigned char>(t.count * dtype_size(t.type))};
    const Factory& f = t.init ? t.init : poison();
    f(h, seed * 1000 + i);
    out.push_back(std::move(h));
  }
  return out;
}

DeviceTensors::DeviceTensors(Backend& be, const std::vector<HostTensor>& host) {
  for (const HostTensor& h : host) {
    buffers_.emplace_back(be, h.bytes.size());
    buffers_.back().upload(h.bytes);
    types_.push_back(h.type);
    args_.p.push_back(buffers_.back().data());
  }
}

std::vector<HostTensor> DeviceTensors::download() const {
  std::vector<HostTensor> out;
  for (size_t i = 0; i < buffers_.size(); ++i) out.push_back(HostTensor{types_[i], buffers_[i].download()});
  return out;
}

std::vector<HostTensor> run_case(Backend& be, const OpCase& c, const std::vector<HostTensor>& in) {
  DeviceTensors d(be, in);
  c.run(be, d.args());
  be.synchronize();
  return d.download();
}

std::string compare_outputs(const OpCase& c, const std::vector<HostTensor>& got, const std::vector<HostTensor>& want) {
  std::ostringstream os;
  for (size_t i = 0; i < c.tensors.size(); ++i) {
    const TensorSpec& t = c.tensors[i];
    if (t.role == Role::In) continue;
    const bool integer = t.type == DType::I32 || t.type == DType::U8;
    const testing::Tol tol = integer ? testing::kExact : t.tol.value_or(c.tol);
    std::vector<double> a(got[i].count()), e(want[i].count());
    for (size_t k = 0; k < a.size(); ++k) a[k] = get(got[i], k);
    for (size_t k = 0; k < e.size(); ++k) e[k] = get(want[i], k);
    const testing::CloseReport r = testing::close_report(a.data(), e.data(), std::min(a.size(), e.size()), tol);
    if (!r.ok || a.size() != e.size())
      os << c.op << " " << c.label << " (" << c.shape << "), output " << t.name << ": " << r.text
         << (a.size() != e.size() ? " (sizes differ)" : "") << "\n";
  }
  return os.str();
}

}  // namespace digits::harness
