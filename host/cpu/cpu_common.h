// Private helpers of the optimised CPU ops: the thread count every parallel region uses, per-thread
// aligned scratch buffers, and the OpenBLAS threading rule. Not part of the op API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>

namespace digits::cpu::detail {

// The thread count of set_num_threads (resolved: never 0).
int threads();

// The vector instructions the hand-written kernels use: detected once (AVX2 counts with FMA, AVX-512 with
// VL), then capped by $DIGITS_CPU_ISA (base | avx2 | avx512) or set_isa_limit, so that the lower levels'
// kernels run, and are tested, on a machine that has the higher ones. A cap never raises the level.
enum class Isa { Base, Avx2, Avx512 };
Isa isa();
Isa detected_isa();
void set_isa_limit(Isa limit);  // tests; Isa::Avx512 lifts the cap
const char* to_string(Isa i);   // "base", "avx2", "avx512"

// Below this many elements an element-wise op runs on the calling thread: waking the pool costs more.
inline constexpr size_t kParallelMin = size_t(1) << 15;

// C (M, N) = alpha op(A) op(B) + beta C, row-major, as cblas_sgemm. Results do not depend on the thread
// count: the product is cut into chunks fixed by the shape alone (64 rows, else 256 columns), each computed
// by a single-threaded OpenBLAS call, the chunks spread over our threads (run in turn when the caller is
// already inside a parallel region). OpenBLAS's own threading does not promise that: on some kernels
// (Zen/Haswell) an element's sum depends on where the thread split puts it in a register tile.
void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
           int ldb, float beta, float* C, int ldc);

// Before a cblas call made outside our parallel regions: the OpenMP build of OpenBLAS takes its thread
// count from the calling thread's omp_get_max_threads(), so set that ICV to threads() (it then stays the
// same from call to call: OpenBLAS rebuilds its buffers whenever the count changes). Inside an active
// parallel region OpenBLAS runs single-threaded, which is what the per-image loops and sgemm's chunks want.
void prepare_blas_outside();

// A per-thread, 64-byte aligned buffer of at least n floats that lives until the thread ends.
// `slot` tells apart buffers needed at the same time. Contents are undefined on return.
// Throws digits::Error naming the size when memory runs out (use inside ParallelErrors::run).
float* scratch(size_t n, int slot = 0);

// An exception must not leave an OpenMP region: run() keeps the first one, rethrow() raises it after.
class ParallelErrors {
 public:
  template <class F>
  void run(F&& f) noexcept {
    try {
      f();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!first_) first_ = std::current_exception();
    }
  }
  void rethrow() const {
    if (first_) std::rethrow_exception(first_);
  }

 private:
  std::mutex mu_;
  std::exception_ptr first_;
};

}  // namespace digits::cpu::detail
