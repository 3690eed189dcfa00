// Random uint8 image sets and batch indices for the batch-building ops (gather_batch, augment_batch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace digits::testing {

// `count` random H x W images with labels 0..9.
struct ImageSet {
  int H, W, count;
  std::vector<uint8_t> images, labels;
};
inline ImageSet random_images(int H, int W, int count, uint64_t seed) {
  ImageSet d{H, W, count, std::vector<uint8_t>(size_t(count) * H * W), std::vector<uint8_t>(size_t(count))};
  std::mt19937_64 rng(seed);
  for (auto& p : d.images) p = uint8_t(rng());
  for (auto& l : d.labels) l = uint8_t(rng() % 10);
  return d;
}

// n random indices into a set of `count` images; the first is the last image, so that reads end exactly
// at the data set's end.
inline std::vector<int32_t> random_index(int n, int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> index(size_t(n), 0);
  for (auto& i : index) i = int32_t(rng() % uint64_t(count));
  if (n > 0) index[0] = count - 1;
  return index;
}

}  // namespace digits::testing
