// Thread control of the CPU ops (OpenMP regions and OpenBLAS) and the per-thread scratch buffers.
#include <cblas.h>
#include <omp.h>

#include <algorithm>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>

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

namespace {
Isa detect() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
  return Isa::Base;
}
Isa limit_from_env() {
  const char* v = std::getenv("DIGITS_CPU_ISA");
  if (!v || !*v) return Isa::Avx512;
  for (Isa i : {Isa::Base, Isa::Avx2, Isa::Avx512})
    if (std::string(v) == to_string(i)) return i;
  throw Error(std::string("DIGITS_CPU_ISA=") + v + ": expected base, avx2 or avx512");
}
std::atomic<int> g_isa_limit{-1};  // -1: not read from the environment yet
}  // namespace

const char* to_string(Isa i) { return i == Isa::Base ? "base" : i == Isa::Avx2 ? "avx2" : "avx512"; }

Isa detected_isa() {
  static const Isa i = detect();
  return i;
}

void set_isa_limit(Isa limit) { g_isa_limit.store(int(limit)); }

Isa isa() {
  int limit = g_isa_limit.load(std::memory_order_relaxed);
  if (limit < 0) {
    const int from_env = int(limit_from_env());
    g_isa_limit.compare_exchange_strong(limit, from_env);
    limit = g_isa_limit.load();
  }
  return std::min(detected_isa(), Isa(limit));
}

void prepare_blas_outside() {
  const int n = threads();
  if (omp_get_max_threads() != n) omp_set_num_threads(n);
}

void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
           int ldb, float beta, float* C, int ldc) {
  constexpr int kRows = 64, kCols = 256;  // multiples of every OpenBLAS sgemm register tile
  const bool by_rows = M >= 2 * kRows, by_cols = !by_rows && N >= 2 * kCols;
  const int nchunks = by_rows ? (M + kRows - 1) / kRows : by_cols ? (N + kCols - 1) / kCols : 1;
  const CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
  const auto run = [&](int c) {
    if (by_rows) {
      const int m0 = c * kRows, m = std::min(M, m0 + kRows) - m0;
      cblas_sgemm(CblasRowMajor, ta, tb, m, N, K, alpha, trans_a ? A + m0 : A + size_t(m0) * lda, lda, B, ldb, beta,
                  C + size_t(m0) * ldc, ldc);
    } else if (by_cols) {
      const int n0 = c * kCols, n = std::min(N, n0 + kCols) - n0;
      cblas_sgemm(CblasRowMajor, ta, tb, M, n, K, alpha, A, lda, trans_b ? B + size_t(n0) * ldb : B + n0, ldb, beta,
                  C + n0, ldc);
    } else {
      cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    }
  };
  if (omp_in_parallel()) {  // a thread of our team: OpenBLAS runs single-threaded here
    for (int c = 0; c < nchunks; ++c) run(c);
    return;
  }
  // No `if` clause: every chunk runs inside a region of ours, where OpenBLAS uses one thread (an active
  // region) or, with one thread, the count prepare_blas_outside() set: one.
  prepare_blas_outside();
#pragma omp parallel for num_threads(threads()) schedule(static)
  for (int c = 0; c < nchunks; ++c) run(c);
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
