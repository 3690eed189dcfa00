// Thread control of the CPU ops (OpenMP regions and OpenBLAS) and the per-thread scratch buffers.
#include <omp.h>

#include <atomic>
#include <cstdlib>
#include <memory>

#include "cpu/cpu_common.h"
#include "cpu/cpu_ops.h"
#include "error.h"

namespace digits::cpu {
namespace {
int all_cores() { return omp_get_num_procs() > 0 ? omp_get_num_procs() : 1; }
std::atomic<int> g_threads{0};  // 0 until the first use or set_num_threads
}  // namespace

void set_num_threads(int n) {
  DIGITS_CHECK(n >= 0, "set_num_threads: " << n << " threads (0 means all cores)");
  g_threads.store(n == 0 ? all_cores() : n);
  omp_set_num_threads(g_threads.load());
}

int num_threads() { return detail::threads(); }

namespace detail {

int threads() {
  int n = g_threads.load(std::memory_order_relaxed);
  if (n == 0) {
    int expected = 0;
    g_threads.compare_exchange_strong(expected, all_cores());
    n = g_threads.load();
  }
  return n;
}

void prepare_blas_outside() {
  const int n = threads();
  if (omp_get_max_threads() != n) omp_set_num_threads(n);
}

namespace {
struct AlignedFree {
  void operator()(float* p) const noexcept { std::free(p); }
};
struct Scratch {
  std::unique_ptr<float, AlignedFree> p;
  size_t n = 0;
};
}  // namespace

float* scratch(size_t n, int slot) {
  constexpr int kSlots = 6;
  DIGITS_CHECK(slot >= 0 && slot < kSlots, "scratch slot " << slot);
  thread_local Scratch bufs[kSlots];
  Scratch& b = bufs[slot];
  if (b.n < n) {
    const size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
    DIGITS_CHECK(p != nullptr, "CPU ops: out of memory allocating a scratch buffer of " << bytes << " bytes");
    b.p.reset(p);
    b.n = n;
  }
  return b.p.get();
}

}  // namespace detail
}  // namespace digits::cpu
