// CPU peak microbenchmarks (peaks.h). The FMA loops keep 12 independent accumulators per thread, enough to
// fill two FMA pipes of latency 4-6; the multiplier and addend keep every value near 1 (no denormals,
// no overflow). The stream loops use first touch by the thread that later reads each part.
#include "peaks.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>

#include "error.h"

namespace digits {
namespace {

constexpr int kAcc = 12;  // independent accumulators per thread
// Read at run time, so that the compiler cannot fold the loops into their (converged) result.
volatile float g_start = 1.f, g_mul = 0.9999999f, g_add = 1e-7f;

// fn(iters): kAcc accumulators of VEC (LANES floats; intrinsics PREFIX##_*_ps, compiled for ISA) each take
// `iters` FMAs; returns a sum of the accumulators, written to a volatile so that the loop cannot be dropped.
// A macro, not a template: each ISA's intrinsics inline only into a function compiled for that ISA.
#define DIGITS_FMA_LOOP(fn, isa, VEC, PREFIX, LANES)                                                \
  __attribute__((target(isa))) float fn(long iters) {                                               \
    VEC a[kAcc];                                                                                    \
    for (int j = 0; j < kAcc; ++j) a[j] = PREFIX##_set1_ps(g_start + float(j) * 1e-3f);             \
    const VEC m = PREFIX##_set1_ps(g_mul), c = PREFIX##_set1_ps(g_add);                             \
    for (long i = 0; i < iters; ++i)                                                                \
      for (int j = 0; j < kAcc; ++j) a[j] = PREFIX##_fmadd_ps(a[j], m, c);                          \
    for (int j = 1; j < kAcc; ++j) a[0] = PREFIX##_add_ps(a[0], a[j]);                              \
    float out[LANES];                                                                               \
    PREFIX##_storeu_ps(out, a[0]);                                                                  \
    return out[0] + out[LANES - 1];                                                                 \
  }
DIGITS_FMA_LOOP(fma_avx512, "avx512f", __m512, _mm512, 16)
DIGITS_FMA_LOOP(fma_avx2, "avx2,fma", __m256, _mm256, 8)
#undef DIGITS_FMA_LOOP

// SSE has no FMA: a multiply and an add per element (two FLOPs, as an FMA counts).
float muladd_sse(long iters) {
  __m128 a[kAcc];
  for (int j = 0; j < kAcc; ++j) a[j] = _mm_set1_ps(g_start + float(j) * 1e-3f);
  const __m128 m = _mm_set1_ps(g_mul), c = _mm_set1_ps(g_add);
  for (long i = 0; i < iters; ++i)
    for (int j = 0; j < kAcc; ++j) a[j] = _mm_add_ps(_mm_mul_ps(a[j], m), c);
  for (int j = 1; j < kAcc; ++j) a[0] = _mm_add_ps(a[0], a[j]);
  return _mm_cvtss_f32(a[0]);
}

struct FmaLoop {
  const char* name;
  const char* isa;  // __builtin_cpu_supports name, or null (always there)
  int lanes;
  float (*run)(long);
};
const FmaLoop kLoops[] = {{"fma avx512", "avx512f", 16, fma_avx512},
                          {"fma avx2", "avx2", 8, fma_avx2},
                          {"mul+add sse", nullptr, 4, muladd_sse}};

bool has(const FmaLoop& l) {
  __builtin_cpu_init();
  if (!l.isa) return true;
  if (std::string(l.isa) == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return __builtin_cpu_supports("avx512f");
}

using Clock = std::chrono::steady_clock;

// Wall time of body(thread) run once on every one of `threads` threads.
double parallel_seconds(int threads, const std::function<void(int)>& body) {
  const auto t0 = Clock::now();
#pragma omp parallel num_threads(threads)
  body(omp_get_thread_num());
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// GFLOP/s of one loop: iterations calibrated to about `seconds`, best of `reps`.
double fma_gflops(const FmaLoop& l, int threads, double seconds, int reps) {
  std::vector<float> sums(size_t(threads), 0.f);  // one per thread: the loops' results are used
  long iters = 1 << 16;
  const auto run = [&] { return parallel_seconds(threads, [&](int i) { sums[size_t(i)] += l.run(iters); }); };
  double t = 0;
  while ((t = run()) < seconds / 4 && iters < (1L << 40)) iters *= 4;
  iters = std::max(1L, long(double(iters) * seconds / t));
  double best = 0;
  for (int r = 0; r < reps; ++r) best = std::max(best, 2.0 * kAcc * l.lanes * double(iters) * threads / run() * 1e-9);
  volatile float sink = sums[0];
  (void)sink;
  return best;
}

}  // namespace

MachinePeak Peaks::peak() const {
  MachinePeak p;
  for (const PeakSample& s : arithmetic) p.gflops = std::max(p.gflops, s.value);
  for (const PeakSample& s : bandwidth) p.gbs = std::max(p.gbs, s.value);
  return p;
}

std::vector<std::string> cpu_fma_isas() {
  std::vector<std::string> r;
  for (const FmaLoop& l : kLoops)
    if (has(l)) r.push_back(l.name);
  return r;
}

// copy c = a (8 bytes per element) and triad a = b + s c (12 bytes per element), best of `reps`.
static std::vector<PeakSample> stream_gbs(int threads, int reps, size_t n) {
  std::unique_ptr<float[]> a(new float[n]), b(new float[n]), c(new float[n]);
  float *pa = a.get(), *pb = b.get(), *pc = c.get();
  const long len = long(n);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (long i = 0; i < len; ++i) pa[i] = 1.f, pb[i] = 2.f, pc[i] = 0.f;
  double copy = 0, triad = 0;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long i = 0; i < len; ++i) pc[i] = pa[i];
    double t = std::chrono::duration<double>(Clock::now() - t0).count();
    copy = std::max(copy, 8.0 * double(n) / t * 1e-9);
    t0 = Clock::now();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long i = 0; i < len; ++i) pa[i] = pb[i] + 0.5f * pc[i];
    t = std::chrono::duration<double>(Clock::now() - t0).count();
    triad = std::max(triad, 12.0 * double(n) / t * 1e-9);
  }
  return {{"copy", copy}, {"triad", triad}};
}

Peaks measure_cpu_peaks(int threads, double seconds, int reps, int stream_mib) {
  DIGITS_CHECK(threads >= 1 && seconds > 0 && reps >= 1 && stream_mib >= 1,
               "peaks: threads " << threads << ", seconds " << seconds << ", reps " << reps << ", MiB " << stream_mib);
  Peaks p;
  for (const FmaLoop& l : kLoops)
    if (has(l)) p.arithmetic.push_back({l.name, fma_gflops(l, threads, seconds, reps)});
  p.bandwidth = stream_gbs(threads, reps, size_t(stream_mib) << 18);  // MiB / 4 bytes
  return p;
}

}  // namespace digits
