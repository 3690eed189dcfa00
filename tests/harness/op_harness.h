// The op harness (in the manner of ggml's test-backend-ops): one table of op cases, each naming an op of
// host/ops.h, its tensors with their input factories, how to call it through a Backend, its tolerance,
// its FLOP and byte counts and, for tiny cases, a finite-difference gradient check in double. The same
// table drives the CPU-vs-reference and CUDA-vs-CPU tests (tests/unit/op_harness_test.cpp,
// tests/cuda/cuda_op_harness_test.cpp), the gradient checks and the op benchmarks of digits-bench.
// The table itself is tests/harness/op_cases.cpp; adding an op is an entry there (see its top).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "backend.h"
#include "testing/gradcheck.h"
#include "testing/tolerance.h"

namespace digits::harness {

enum class DType { F32, I32, U8, F64 };
enum class Role { In, Out, InOut };  // Out: poisoned before the call; In/InOut: made by the factory
size_t dtype_size(DType t);

// A tensor's values in host memory, as raw bytes of its type.
struct HostTensor {
  DType type = DType::F32;
  std::vector<unsigned char> bytes;
  size_t count() const { return bytes.size() / dtype_size(type); }
  template <class T>
  T* as() {
    return reinterpret_cast<T*>(bytes.data());
  }
  template <class T>
  const T* as() const {
    return reinterpret_cast<const T*>(bytes.data());
  }
};

// Fills a tensor's `count` elements from a seed (the seed differs per tensor of a case).
using Factory = std::function<void(HostTensor& t, uint64_t seed)>;
Factory uniform(double lo, double hi);         // f32/f64 uniform in [lo, hi)
Factory labels(int K);                         // i32/u8 uniform in [0, K)
Factory indices(int count);                    // i32 in [0, count), the first = count - 1 (reads end at the end)
Factory random_bytes();                        // u8 uniform in [0, 255]
Factory constant(double v);                    // every element v (any type)
Factory poison();                              // f32/f64 NaN, integers -12345: what an op must overwrite
Factory huge_logits(double lo, double hi);     // uniform, with the first two elements +1e30 and -1e30
Factory ties(double lo, double hi);            // uniform rounded to integers: many equal maxima
Factory maxpool_argmax(const PoolShape& s);    // the argmax of max pooling a uniform x (runs the forward)

struct TensorSpec {
  std::string name;
  DType type = DType::F32;
  size_t count = 0;
  Role role = Role::In;
  Factory init;                // Out tensors: poison() unless set
  std::optional<testing::Tol> tol = {};  // this output's tolerance, when it is not the case's
};

// Typed views of a case's tensors in a backend's memory, in the order of OpCase::tensors.
struct Args {
  std::vector<void*> p;
  float* f(size_t i) const { return static_cast<float*>(p[i]); }
  int32_t* i32(size_t i) const { return static_cast<int32_t*>(p[i]); }
  uint8_t* u8(size_t i) const { return static_cast<uint8_t*>(p[i]); }
  double* f64(size_t i) const { return static_cast<double*>(p[i]); }
};

// One gradient checked by central differences: the analytic gradient and the numeric one.
struct GradPair {
  std::string name;
  testing::Vec analytic, numeric;
};

struct OpCase {
  std::string op;     // the op's name in host/ops.h
  std::string label;  // e.g. "best.conv3", "awkward.N1_pad1", "seed.params"
  std::string shape;  // e.g. "N=2 C=32 H=12 W=12 K=64 R=3 S=3 pad=0"
  bool network = false;  // a shape of a preset's real network (benchmarked at the benchmark batch)
  int images = 0;        // images in the batch (the benchmarks' items processed)
  std::vector<TensorSpec> tensors;
  std::function<void(Backend&, const Args&)> run;  // calls the Backend op on the tensors
  testing::Tol tol = testing::kElementwise;
  double flops = 0, bytes = 0;
  std::function<std::vector<GradPair>()> gradcheck;  // tiny cases only: reference::typed<double>
  // The shape struct of the conv and pool ops (else all zero), for the benchmarks of implementation
  // variants that Backend does not reach (CPU im2col vs Winograd, cuDNN vs direct kernels).
  ConvShape conv{};
  PoolShape pool{};
  std::string name() const;                          // op_label with [^A-Za-z0-9] -> '_' (test names)
};

inline constexpr int kBenchBatch = 128;  // the training batch: the benchmarks' shapes
inline constexpr int kTestBatch = 2;     // the tests' network shapes (the reference conv is slow)

// Every case: the presets' networks at `batch` plus, when `awkward`, the awkward shapes of each op.
std::vector<OpCase> op_cases(int batch, bool awkward);
// The tests' table (op_cases(kTestBatch, true)), built once.
const std::vector<OpCase>& test_cases();
// Shapes that make each op refuse to run (op_checks.h): calls that must throw digits::Error on any backend.
struct BadCall {
  std::string op, what;
  std::function<void(Backend&)> call;
};
std::vector<BadCall> bad_calls();

// ---- running a case ----------------------------------------------------------------------------
// Host values of every tensor: inputs from their factories (seeded from `seed`), outputs poisoned.
std::vector<HostTensor> make_tensors(const OpCase& c, uint64_t seed = 1);
// Uploads the tensors to `be`, runs the case, and returns every tensor as it is afterwards.
std::vector<HostTensor> run_case(Backend& be, const OpCase& c, const std::vector<HostTensor>& in);
// Compares the outputs (Out and InOut tensors) of two runs; an empty string when they agree, else a
// message naming the op, the label, the shape, the tensor and the worst absolute and relative error.
std::string compare_outputs(const OpCase& c, const std::vector<HostTensor>& got, const std::vector<HostTensor>& want);

// The tensors of a case living in one backend's memory (the benchmarks time run() on these).
class DeviceTensors {
 public:
  DeviceTensors(Backend& be, const std::vector<HostTensor>& host);
  const Args& args() const { return args_; }
  std::vector<HostTensor> download() const;

 private:
  std::vector<Buffer<unsigned char>> buffers_;
  std::vector<DType> types_;
  Args args_;
};

}  // namespace digits::harness
