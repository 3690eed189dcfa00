// Reference softmax cross-entropy (stable: shifted by the row maximum, in double) and the running
// loss/accuracy statistics of an epoch.
#include "reference/reference_impl.h"
#include "reference/reference_ops.h"

namespace digits::reference {

void softmax_xent(int N, int K, const float* logits, const int32_t* labels, float* probs, float* loss,
                  float* dlogits, float scale) {
  typed::softmax_xent<float>(N, K, logits, labels, probs, loss, dlogits, scale);
}

void accumulate_stats(int N, int K,
                      const float* probs,     // (N, K)
                      const int32_t* labels,  // (N)
                      const float* loss,      // (N)
                      double* stats) {        // (2): += sum of loss, += number correct
  DIGITS_CHECK(N >= 0 && K > 0, "accumulate_stats: bad shape N=" << N << " K=" << K);
  double loss_sum = 0, correct = 0;
  for (int n = 0; n < N; ++n) {
    const float* p = probs + size_t(n) * K;
    int best = 0;
    for (int k = 1; k < K; ++k)
      if (p[k] > p[best]) best = k;  // strict: the first maximum wins ties
    loss_sum += double(loss[n]);
    if (best == labels[n]) correct += 1;
  }
  stats[0] += loss_sum;
  stats[1] += correct;
}

}  // namespace digits::reference
