// CpuBackend: the Backend over host memory, an adapter over the digits::cpu:: ops expanded from the op
// table (host/ops.h). It owns its thread count, a value given at construction: the OpenMP and OpenBLAS
// count is per process, so the count is made current only when another CpuBackend changed it.

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "cpu/cpu_common.h"
#include "cpu/cpu_ops.h"
#include "error.h"
#include "host_backend.h"

namespace digits {
namespace {

// The kernels' level (DIGITS_CPU_ISA may cap it), named as users know it.
std::string isa_name() {
  switch (cpu::detail::isa()) {
    case cpu::detail::Isa::Avx512: return "AVX-512";
    case cpu::detail::Isa::Avx2: return "AVX2";
    default: return "baseline x86-64";
  }
}

}  // namespace

// ---- host memory (also the reference backend's) ----------------------------------------------------
void* HostBackend::allocate(size_t bytes) {
  const size_t rounded = std::max<size_t>(64, (bytes + 63) / 64 * 64);
  DIGITS_CHECK(rounded >= bytes, "CPU backend: cannot allocate " << bytes << " bytes");
  void* p = std::aligned_alloc(64, rounded);
  if (!p) DIGITS_FAIL("CPU backend: out of memory allocating " << bytes << " bytes (" << (bytes >> 20) << " MiB)");
  return p;
}
void HostBackend::deallocate(void* p) noexcept { std::free(p); }
void HostBackend::copy(void* dst, const void* src, size_t bytes) {
  if (bytes) std::memmove(dst, src, bytes);
}
void HostBackend::fill(float* p, size_t n, float value) { std::fill_n(p, n, value); }

// ---- the CPU backend -------------------------------------------------------------------------------
class CpuBackend final : public HostBackend {
 public:
  explicit CpuBackend(int threads) {
    cpu::set_num_threads(threads);
    threads_ = cpu::num_threads();
  }

  std::string name() const override {
    return "CPU (OpenBLAS, " + isa_name() + ", " + std::to_string(threads_) + (threads_ == 1 ? " thread)" : " threads)");
  }

 protected:
#define DIGITS_OP(name, params, args, check) \
  void do_##name params override {           \
    use_threads();                           \
    cpu::name args;                          \
  }
#include "ops.h"
#undef DIGITS_OP

 private:
  void use_threads() const {
    if (cpu::num_threads() != threads_) cpu::set_num_threads(threads_);
  }
  int threads_ = 1;
};

std::unique_ptr<Backend> make_cpu_backend(int threads) {
  DIGITS_CHECK(threads >= 0, "CPU backend: " << threads << " threads (0 means all cores)");
  return std::make_unique<CpuBackend>(threads);
}

}  // namespace digits
