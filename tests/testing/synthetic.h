// A small synthetic MNIST-shaped data set made by the tests themselves: class k is a bright bar at a
// class-dependent place and orientation plus noise, so a network learns it within a few steps.
#pragma once

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <tuple>

#include "mnist_idx.h"

namespace digits::testing {

inline Dataset synthetic_split(int count, uint64_t seed) {
  Dataset d;
  d.count = count, d.rows = 28, d.cols = 28;
  d.images.assign(size_t(count) * 784, 0);
  d.labels.resize(size_t(count));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < count; ++i) {
    const int k = int(rng() % 10);
    d.labels[size_t(i)] = uint8_t(k);
    uint8_t* img = &d.images[size_t(i) * 784];
    const int pos = 3 + (k % 5) * 5 + int(rng() % 2);
    for (int t = 4; t < 24; ++t) {
      const int y = k < 5 ? pos : t, x = k < 5 ? t : pos;
      img[y * 28 + x] = 255;
      img[(y + (k < 5)) * 28 + x + (k >= 5)] = 200;
    }
    for (int p = 0; p < 20; ++p) img[rng() % 784] = uint8_t(rng() % 128);
  }
  return d;
}

inline Mnist synthetic_mnist(int train = 640, int test = 200) {
  Mnist m;
  m.dir = "<synthetic>";
  m.train = synthetic_split(train, 11);
  m.test = synthetic_split(test, 12);
  m.crc32 = 12345;
  return m;
}

// Writes a tiny synthetic data set as the four raw IDX files `digits train --data DIR` reads.
inline void write_synthetic_mnist(const std::string& dir, int train = 64, int test = 32) {
  std::filesystem::create_directories(dir);
  for (const auto& [stem, count, seed] : {std::tuple{"train", train, 11u}, std::tuple{"t10k", test, 12u}}) {
    const Dataset d = synthetic_split(count, seed);
    write_idx(dir + "/" + stem + "-images-idx3-ubyte", {uint32_t(count), 28, 28}, d.images);
    write_idx(dir + "/" + stem + "-labels-idx1-ubyte", {uint32_t(count)}, d.labels);
  }
}

}  // namespace digits::testing
