// CUDA augment_batch against digits::cpu: no augmentation equals gather_batch bit for bit, random
// transforms agree within a stated tolerance on awkward shapes and on more images than grid y holds,
// repeated calls are identical, bad parameters are rejected before any launch. Skips without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "cpu/cpu_ops.h"
#include "cuda_fixture.h"
#include "error.h"
#include "testing/compare.h"
#include "testing/image_batches.h"

namespace digits {
namespace {

using testing::CudaTest;
using testing::poisoned;

constexpr float kScale = 1.0f / (255.0f * 0.3081f), kShift = -0.1307f / 0.3081f;
constexpr AugmentParams kTypical{15.f, 0.15f, 0.2f, 3.f, 2.f};
constexpr AugmentParams kWild{180.f, 0.5f, 1.f, 10.f, 5.f};

// GPU vs CPU tolerance: both evaluate the map in float with the same operation order, but the GPU's
// sinf/cosf may differ from glibc's by an ulp or two and nvcc contracts a*b + c into FMAs (one rounding
// instead of two) in the coordinate and interpolation arithmetic. Either moves a source coordinate by a
// few ulp of |coordinate| <~ 40, ~1e-5 pixel; bilinear interpolation is continuous with slope at most 255
// per pixel, so values move by ~1e-5 of their range 255 |scale|. 1e-4 of the range leaves a margin of ten.
constexpr testing::Tol kAugmentTol{1e-4 * 255.0 * double(kScale), 0.0, 1e-5};

using DataSet = testing::ImageSet;
using testing::random_images;
using testing::random_index;

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class CudaAugment : public CudaTest {
 protected:
  struct Batch {
    std::vector<float> x;
    std::vector<int32_t> labels;
  };
  // augment_batch on the device over a device copy of the data set.
  static Batch run_gpu(const DataSet& d, const std::vector<int32_t>& index, const AugmentParams& a, uint64_t seed) {
    const int n = int(index.size());
    auto d_images = dev(d.images), d_labels = dev(d.labels);
    auto d_index = dev(index);
    auto d_x = dev_poisoned(size_t(n) * d.H * d.W);
    auto d_l = dev_ints(size_t(n));
    be().augment_batch(n, d.H, d.W, d_images.data(), d_labels.data(), d_index.data(), a, seed, kScale, kShift,
                       d_x.data(), d_l.data());
    return {d_x.download(), d_l.download()};
  }
  static Batch run_cpu(const DataSet& d, const std::vector<int32_t>& index, const AugmentParams& a, uint64_t seed) {
    const int n = int(index.size());
    Batch b{poisoned(size_t(n) * d.H * d.W), std::vector<int32_t>(size_t(n), -1)};
    cpu::augment_batch(n, d.H, d.W, d.images.data(), d.labels.data(), index.data(), a, seed, kScale, kShift,
                       b.x.data(), b.labels.data());
    return b;
  }
};

TEST_F(CudaAugment, ZeroParamsEqualGatherExactly) {
  for (const auto& [H, W] : {std::pair{28, 28}, std::pair{5, 7}, std::pair{1, 1}, std::pair{9, 1}})
    for (int n : {1, 37}) {
      SCOPED_TRACE(::testing::Message() << "H=" << H << " W=" << W << " n=" << n);
      const DataSet d = random_images(H, W, 50, 1);
      const auto index = random_index(n, d.count, 2);
      auto want = poisoned(size_t(n) * H * W);
      std::vector<int32_t> want_labels(size_t(n), -2);
      cpu::gather_batch(n, H * W, d.images.data(), d.labels.data(), index.data(), kScale, kShift, want.data(),
                        want_labels.data());
      const Batch got = run_gpu(d, index, AugmentParams{}, 12345);
      EXPECT_TRUE(same_bits(got.x, want));
      EXPECT_EQ(got.labels, want_labels);
    }
}

// The awkward shapes against the CPU: the op harness (OpCuda.MatchesCpu/augment_batch_*).

TEST_F(CudaAugment, MoreImagesThanGridYHoldsMatchCpu) {
  // Grid y is capped at 65535 blocks; later images are reached by the kernel's image-stride loop.
  const DataSet d = random_images(2, 3, 100, 5);
  const auto index = random_index(70001, d.count, 6);
  const Batch got = run_gpu(d, index, kTypical, 8), want = run_cpu(d, index, kTypical, 8);
  EXPECT_CLOSE(got.x, want.x, kAugmentTol);
  EXPECT_EQ(got.labels, want.labels);
}

TEST_F(CudaAugment, SameSeedRepeatsAndAnotherSeedDiffers) {
  const DataSet d = random_images(28, 28, 20, 7);
  const auto index = random_index(16, d.count, 8);
  const Batch b1 = run_gpu(d, index, kTypical, 99), b2 = run_gpu(d, index, kTypical, 99);
  EXPECT_TRUE(same_bits(b1.x, b2.x));
  EXPECT_EQ(b1.labels, b2.labels);
  const Batch other = run_gpu(d, index, kTypical, 100);
  EXPECT_FALSE(same_bits(b1.x, other.x));
}

TEST_F(CudaAugment, RejectsBadShapesAndParametersAndAcceptsAnEmptyBatch) {
  const DataSet d = random_images(4, 4, 2, 9);
  auto d_images = dev(d.images), d_labels = dev(d.labels);
  auto d_index = dev(std::vector<int32_t>{0, 1});
  auto d_x = dev_poisoned(32);
  auto d_l = dev_ints(2);
  const auto call = [&](int n, int H, int W, const AugmentParams& a) {
    be().augment_batch(n, H, W, d_images.data(), d_labels.data(), d_index.data(), a, 1, kScale, kShift, d_x.data(),
                       d_l.data());
    be().synchronize();
  };
  EXPECT_NO_THROW(call(0, 4, 4, kTypical));
  EXPECT_THROW(call(-1, 4, 4, kTypical), Error);
  EXPECT_THROW(call(2, 0, 4, kTypical), Error);
  EXPECT_THROW(call(2, 4, -1, kTypical), Error);
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (float AugmentParams::*field : {&AugmentParams::rotate_deg, &AugmentParams::zoom, &AugmentParams::shear,
                                      &AugmentParams::translate, &AugmentParams::elastic})
    for (const float bad : {nan, inf, -1.f}) {
      AugmentParams a = kTypical;
      a.*field = bad;
      EXPECT_THROW(call(2, 4, 4, a), Error) << bad;
    }
  AugmentParams big_zoom;
  big_zoom.zoom = 1.f;
  EXPECT_THROW(call(2, 4, 4, big_zoom), Error);
  // Nothing was launched by the rejected calls: the poisoned output is untouched.
  for (const float v : d_x.download()) EXPECT_TRUE(std::isnan(v));
}

}  // namespace
}  // namespace digits
