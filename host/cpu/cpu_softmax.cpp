// Optimised CPU softmax cross-entropy (rows over threads when the batch is large; each row in double
// as the reference, since K is small) and the epoch statistics (one fixed-order sum over the batch).
#include <omp.h>

#include <cmath>

#include "cpu/cpu_common.h"
#include "cpu/cpu_ops.h"
#include "error.h"

namespace digits::cpu {

void softmax_xent(int N, int K,
                  const float* logits,    // (N, K)
                  const int32_t* labels,  // (N)
                  float* probs,           // (N, K)
                  float* loss,            // (N)
                  float* dlogits,         // (N, K) or null
                  float scale) {
  for (int n = 0; n < N; ++n)
    DIGITS_CHECK(labels[n] >= 0 && labels[n] < K,
                 "softmax_xent: label " << labels[n] << " of row " << n << " outside [0, " << K << ")");
  const int nt = detail::threads();
#pragma omp parallel for num_threads(nt) schedule(static) if (size_t(N) * K > detail::kParallelMin / 4)
  for (int n = 0; n < N; ++n) {
    const float* l = logits + size_t(n) * K;
    float* pr = probs + size_t(n) * K;
    float mx = l[0];
    for (int k = 1; k < K; ++k) mx = std::fmax(mx, l[k]);
    double sum = 0;
    for (int k = 0; k < K; ++k) sum += std::exp(double(l[k]) - double(mx));
    const double log_sum = std::log(sum);
    loss[n] = float(log_sum - (double(l[labels[n]]) - double(mx)));
    for (int k = 0; k < K; ++k) {
      const double pk = std::exp(double(l[k]) - double(mx) - log_sum);
      pr[k] = float(pk);
      if (dlogits) dlogits[size_t(n) * K + k] = float((pk - (k == labels[n] ? 1.0 : 0.0)) * double(scale));
    }
  }
}

void accumulate_stats(int N, int K,
                      const float* probs,     // (N, K)
                      const int32_t* labels,  // (N)
                      const float* loss,      // (N)
                      double* stats) {        // (2)
  // Serial on purpose: N is one batch, and a fixed order keeps the sum the same for any thread count.
  double loss_sum = 0, correct = 0;
  for (int n = 0; n < N; ++n) {
    const float* p = probs + size_t(n) * K;
    int best = 0;
    for (int k = 1; k < K; ++k)
      if (p[k] > p[best]) best = k;
    loss_sum += double(loss[n]);
    if (best == labels[n]) correct += 1;
  }
  stats[0] += loss_sum;
  stats[1] += correct;
}

}  // namespace digits::cpu
