// Optimised CPU batch gathering: images picked by index from the resident uint8 data set, normalised,
// one image per loop iteration spread over threads.
#include <omp.h>

#include "cpu/cpu_common.h"
#include "cpu/cpu_ops.h"
#include "error.h"

namespace digits::cpu {

// images (count, pixels), labels (count), index (n) -> x (n, pixels), labels_out (n)
void gather_batch(int n, int pixels, const uint8_t* images, const uint8_t* labels, const int32_t* index, float scale,
                  float shift, float* x, int32_t* labels_out) {
  for (int i = 0; i < n; ++i) DIGITS_CHECK(index[i] >= 0, "gather_batch: negative index " << index[i] << " at " << i);
  const int nt = detail::threads();
#pragma omp parallel for num_threads(nt) schedule(static) if (size_t(n) * pixels > detail::kParallelMin)
  for (int i = 0; i < n; ++i) {
    const uint8_t* img = images + size_t(index[i]) * pixels;
    float* xi = x + size_t(i) * pixels;
    for (int j = 0; j < pixels; ++j) xi[j] = float(img[j]) * scale + shift;
    labels_out[i] = int32_t(labels[index[i]]);
  }
}

}  // namespace digits::cpu
