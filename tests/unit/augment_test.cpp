// augment_batch (host/ops.h) on the reference and the cpu backend: no augmentation equals gather_batch bit
// for bit; translations, quarter and half turns land where hand computation from philox_uniform says; an
// independent evaluation of the documented map (hat-function sums instead of floor/clamp); determinism
// in (seed, i); cpu vs reference on awkward shapes; identical bits for any thread count; argument checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numbers>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "cpu/cpu_ops.h"
#include "error.h"
#include "philox.h"
#include "reference/reference_ops.h"
#include "testing/compare.h"
#include "testing/image_batches.h"

namespace digits {
namespace {

namespace ref = digits::reference;
using testing::poisoned;

// MNIST's normalisation, as the trainer uses it.
constexpr float kScale = 1.0f / (255.0f * 0.3081f), kShift = -0.1307f / 0.3081f;

// The random bounds the trainer's augmentation uses, and a wild set that sends much of the image outside.
constexpr AugmentParams kTypical{15.f, 0.15f, 0.2f, 3.f, 2.f};
constexpr AugmentParams kWild{180.f, 0.5f, 1.f, 10.f, 5.f};

using testing::augment_tol;  // testing/tolerance.h

using AugmentFn = void (*)(int, int, int, const uint8_t*, const uint8_t*, const int32_t*, const AugmentParams&,
                           uint64_t, float, float, float*, int32_t*);

struct Impl {
  const char* name;
  AugmentFn fn;
};
const Impl kImpls[] = {{"Reference", &ref::augment_batch}, {"Cpu", &cpu::augment_batch}};
void PrintTo(const Impl& impl, std::ostream* os) { *os << impl.name; }

using DataSet = testing::ImageSet;
using testing::random_images;
using testing::random_index;

struct Batch {
  std::vector<float> x;
  std::vector<int32_t> labels;
};
Batch run(AugmentFn fn, const DataSet& d, const std::vector<int32_t>& index, const AugmentParams& a, uint64_t seed,
          float scale = kScale, float shift = kShift) {
  const int n = int(index.size());
  Batch b{poisoned(size_t(n) * d.H * d.W), std::vector<int32_t>(size_t(n), -1)};
  fn(n, d.H, d.W, d.images.data(), d.labels.data(), index.data(), a, seed, scale, shift, b.x.data(), b.labels.data());
  return b;
}

// 2 u - 1 for u = philox_uniform(seed, 64 i + k), the documented draw.
double sym(uint64_t seed, int i, int k) { return 2.0 * double(philox_uniform(seed, 64 * uint64_t(i) + k)) - 1.0; }

// The bilinear "hat" weight of a sample at distance d.
double hat(double d) { return std::max(0.0, 1.0 - std::fabs(d)); }

// Compared bit for bit (NaN-safe): the promise is equality, not closeness.
::testing::AssertionResult same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << "sizes " << a.size() << " vs " << b.size();
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0)
      return ::testing::AssertionFailure() << "[" << i << "] " << a[i] << " vs " << b[i];
  return ::testing::AssertionSuccess();
}

class AugmentBatch : public ::testing::TestWithParam<Impl> {};
std::string impl_name(const ::testing::TestParamInfo<Impl>& info) { return info.param.name; }

// ---- no augmentation ---------------------------------------------------------------------------

TEST_P(AugmentBatch, ZeroParamsEqualGatherExactly) {
  // clang-format off
  const int shapes[][2] = {{28, 28}, {5, 7}, {7, 5}, {1, 1}, {1, 9}, {9, 1}, {2, 2}};
  // clang-format on
  for (const auto& hw : shapes)
    for (int n : {1, 3, 37})
      for (uint64_t seed : {uint64_t(0), uint64_t(12345), ~uint64_t(0)}) {
        SCOPED_TRACE(::testing::Message() << "H=" << hw[0] << " W=" << hw[1] << " n=" << n << " seed=" << seed);
        const DataSet d = random_images(hw[0], hw[1], 40, 1);
        const auto index = random_index(n, d.count, 2 + uint64_t(n));
        for (const auto& [scale, shift] : {std::pair{kScale, kShift}, std::pair{1.f, 0.f}}) {
          auto want = poisoned(size_t(n) * d.H * d.W);
          std::vector<int32_t> want_labels(size_t(n), -2);
          ref::gather_batch(n, d.H * d.W, d.images.data(), d.labels.data(), index.data(), scale, shift, want.data(),
                            want_labels.data());
          const Batch got = run(GetParam().fn, d, index, AugmentParams{}, seed, scale, shift);
          EXPECT_TRUE(same_bits(got.x, want));
          EXPECT_EQ(got.labels, want_labels);
        }
      }
}

// ---- hand-computed transforms ------------------------------------------------------------------

TEST_P(AugmentBatch, TranslationMovesABrightPixelByTheDrawnShift) {
  // One bright pixel at (13, 15); output (r, c) samples the source at (r - t_y, c - t_x), so the pixel's
  // mass lands on the 2 x 2 pixels around (13 + t_y, 15 + t_x) with bilinear (hat) weights summing to 1.
  const int H = 28, W = 28, r0 = 13, c0 = 15, n = 8;
  const double v0 = 200, translate = 3;
  DataSet d{H, W, 1, std::vector<uint8_t>(size_t(H) * W, 0), {4}};
  d.images[size_t(r0) * W + c0] = uint8_t(v0);
  const std::vector<int32_t> index(n, 0);
  const uint64_t seed = 77;
  AugmentParams a;
  a.translate = float(translate);
  const Batch b = run(GetParam().fn, d, index, a, seed, 1.f, 0.f);
  double largest_shift = 0;
  for (int i = 0; i < n; ++i) {
    const double tx = translate * sym(seed, i, 3), ty = translate * sym(seed, i, 4);
    SCOPED_TRACE(::testing::Message() << "image " << i << " t_x=" << tx << " t_y=" << ty);
    ASSERT_LE(std::fabs(tx), translate);
    ASSERT_LE(std::fabs(ty), translate);
    largest_shift = std::max({largest_shift, std::fabs(tx), std::fabs(ty)});
    std::vector<double> want(size_t(H) * W);
    for (int r = 0; r < H; ++r)
      for (int c = 0; c < W; ++c) want[size_t(r) * W + c] = v0 * hat(r - r0 - ty) * hat(c - c0 - tx);
    EXPECT_CLOSE(std::vector<float>(b.x.begin() + ptrdiff_t(i) * H * W, b.x.begin() + ptrdiff_t(i + 1) * H * W), want,
                 (testing::Tol{1e-3, 0, 1e-5}));
    double mass = 0;
    for (int p = 0; p < H * W; ++p) mass += b.x[size_t(i) * H * W + p];
    EXPECT_NEAR(mass, v0, 1e-3);
    EXPECT_EQ(b.labels[i], 4);
  }
  EXPECT_GT(largest_shift, 1.5) << "the seed should give some shifts of more than a pixel";
}

// A seed whose u0 for image 0 is far from 1/2: with rotate_deg = angle / |2 u0 - 1| (a moderate bound)
// image 0 is rotated by exactly +-angle, so a test can pick the angle.
uint64_t seed_with_large_rotation_draw() {
  for (uint64_t seed = 1;; ++seed)
    if (std::fabs(sym(seed, 0, 0)) > 0.5) return seed;
}

TEST_P(AugmentBatch, QuarterAndHalfTurnsMovePixelsOntoPixels) {
  // With rotate_deg = angle / |2 u0 - 1| the drawn rotation is exactly sign(2 u0 - 1) * angle (up to float
  // rounding of the bound). theta = s 90 deg: xs = s Y + c_x, ys = -s X + c_y, a pixel-to-pixel map when
  // c_x - c_y is an integer; theta = +-180 deg: (r, c) <- (H-1-r, W-1-c) for any shape.
  const uint64_t seed = seed_with_large_rotation_draw();
  const double s0 = sym(seed, 0, 0);
  const int sgn = s0 > 0 ? 1 : -1;
  // clang-format off
  const int shapes[][2] = {{28, 28}, {5, 7}, {6, 8}, {9, 9}};
  // clang-format on
  for (const auto& hw : shapes) {
    const int H = hw[0], W = hw[1];
    SCOPED_TRACE(::testing::Message() << "H=" << H << " W=" << W);
    const DataSet d = random_images(H, W, 1, 3);
    const double cx = (W - 1) / 2.0, cy = (H - 1) / 2.0;
    const auto px = [&](double y, double x) {  // exact integer coordinates expected
      const long long r = std::llround(y), c = std::llround(x);
      EXPECT_NEAR(double(r), y, 1e-9);
      EXPECT_NEAR(double(c), x, 1e-9);
      return (r < 0 || r >= H || c < 0 || c >= W) ? 0.0 : double(d.images[size_t(r) * W + size_t(c)]);
    };
    for (const double angle : {90.0, 180.0}) {
      SCOPED_TRACE(::testing::Message() << "angle " << angle * sgn);
      AugmentParams a;
      a.rotate_deg = float(angle / std::fabs(s0));
      const Batch b = run(GetParam().fn, d, {0}, a, seed, 1.f, 0.f);
      std::vector<double> want(size_t(H) * W);
      for (int r = 0; r < H; ++r)
        for (int c = 0; c < W; ++c)
          want[size_t(r) * W + c] = angle == 180.0 ? px(H - 1 - r, W - 1 - c)
                                                   : px(cy - sgn * (c - cx), cx + sgn * (r - cy));
      EXPECT_CLOSE(b.x, want, (testing::Tol{1e-3, 0, 1e-5}));
    }
  }
}

// The documented map evaluated a second, independent way, in double: the elastic field as a sum over all
// 16 control nodes of hat-function weights, the image value as a sum over all source pixels of hat weights
// (which is bilinear interpolation with zeros outside), no floor or clamping anywhere.
std::vector<double> documented_map(const DataSet& d, const std::vector<int32_t>& index, const AugmentParams& a,
                                   uint64_t seed) {
  const int H = d.H, W = d.W;
  const double cx = (W - 1) / 2.0, cy = (H - 1) / 2.0;
  std::vector<double> out;
  for (int i = 0; i < int(index.size()); ++i) {
    const double theta = a.rotate_deg * std::numbers::pi / 180 * sym(seed, i, 0);
    const double z = 1 + a.zoom * sym(seed, i, 1), h = a.shear * sym(seed, i, 2);
    const double tx = a.translate * sym(seed, i, 3), ty = a.translate * sym(seed, i, 4);
    const uint8_t* img = d.images.data() + size_t(index[size_t(i)]) * H * W;
    for (int r = 0; r < H; ++r)
      for (int c = 0; c < W; ++c) {
        const double gy = r * 3.0 / (H - 1), gx = c * 3.0 / (W - 1);
        double ex = 0, ey = 0;
        for (int na = 0; na < 4; ++na)
          for (int nb = 0; nb < 4; ++nb) {
            const double w = hat(gy - na) * hat(gx - nb);
            ex += w * a.elastic * sym(seed, i, 5 + 2 * (4 * na + nb));
            ey += w * a.elastic * sym(seed, i, 6 + 2 * (4 * na + nb));
          }
        const double X = c - cx, Y = r - cy, Xp = X + h * Y;
        const double xs = (std::cos(theta) * Xp + std::sin(theta) * Y) / z + cx - tx + ex;
        const double ys = (-std::sin(theta) * Xp + std::cos(theta) * Y) / z + cy - ty + ey;
        double v = 0;
        for (int y = 0; y < H; ++y)
          for (int x = 0; x < W; ++x) v += img[size_t(y) * W + x] * hat(ys - y) * hat(xs - x);
        out.push_back(v);
      }
  }
  return out;
}

TEST_P(AugmentBatch, MatchesAnIndependentEvaluationOfTheDocumentedMap) {
  for (const AugmentParams& a : {kTypical, kWild, AugmentParams{30.f, 0.2f, 0.3f, 2.5f, 1.5f}}) {
    for (const auto& hw : {std::pair{11, 9}, std::pair{28, 28}, std::pair{4, 13}}) {
      SCOPED_TRACE(::testing::Message() << "rotate " << a.rotate_deg << " H=" << hw.first << " W=" << hw.second);
      const DataSet d = random_images(hw.first, hw.second, 5, 4);
      const std::vector<int32_t> index{4, 0, 2};
      const Batch b = run(GetParam().fn, d, index, a, 99, 1.f, 0.f);
      EXPECT_CLOSE(b.x, documented_map(d, index, a, 99), augment_tol(1.f));
    }
  }
}

// ---- determinism -------------------------------------------------------------------------------

// Largest |a - b| between two images.
double max_diff(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t k = 0; k < n; ++k) m = std::max(m, std::fabs(double(a[k]) - double(b[k])));
  return m;
}

TEST_P(AugmentBatch, SameSeedRepeatsAndSeedOrPositionChangeTheImage) {
  const DataSet d = random_images(28, 28, 10, 5);
  const size_t P = 28 * 28;
  const std::vector<int32_t> index{7, 7, 3, 7};
  const Batch b1 = run(GetParam().fn, d, index, kTypical, 2024), b2 = run(GetParam().fn, d, index, kTypical, 2024);
  EXPECT_TRUE(same_bits(b1.x, b2.x));
  for (size_t i = 0; i < index.size(); ++i) EXPECT_EQ(b1.labels[i], d.labels[size_t(index[i])]);
  // Another seed moves every image.
  const Batch other = run(GetParam().fn, d, index, kTypical, 2025);
  for (size_t i = 0; i < index.size(); ++i) EXPECT_GT(max_diff(&b1.x[i * P], &other.x[i * P], P), 0.1) << i;
  // The same source image at positions 0, 1 and 3 gets three different transforms.
  EXPECT_GT(max_diff(&b1.x[0], &b1.x[P], P), 0.1);
  EXPECT_GT(max_diff(&b1.x[0], &b1.x[3 * P], P), 0.1);
  EXPECT_GT(max_diff(&b1.x[P], &b1.x[3 * P], P), 0.1);
  // Image i depends on (seed, i) only, not on the batch size.
  const Batch head = run(GetParam().fn, d, {7, 7}, kTypical, 2024);
  EXPECT_TRUE(same_bits(head.x, std::vector<float>(b1.x.begin(), b1.x.begin() + ptrdiff_t(2 * P))));
}

// ---- argument checks ---------------------------------------------------------------------------

TEST_P(AugmentBatch, RejectsANegativeIndex) {
  const AugmentFn fn = GetParam().fn;
  const DataSet d = random_images(4, 4, 2, 6);
  std::vector<float> x(32);
  std::vector<int32_t> lo(2);
  const std::vector<int32_t> good{0, 1}, negative{0, -1};
  const auto call = [&](int n, int H, int W, const std::vector<int32_t>& index, const AugmentParams& a) {
    fn(n, H, W, d.images.data(), d.labels.data(), index.data(), a, 1, kScale, kShift, x.data(), lo.data());
  };
  EXPECT_NO_THROW(call(2, 4, 4, good, kTypical));
  EXPECT_NO_THROW(call(0, 4, 4, good, kTypical));
  EXPECT_THROW(call(2, 4, 4, negative, kTypical), Error);  // bad shapes and bounds: OpPreconditions
}

INSTANTIATE_TEST_SUITE_P(Impl, AugmentBatch, ::testing::ValuesIn(kImpls), impl_name);

// ---- cpu vs reference --------------------------------------------------------------------------

class CpuAugment : public ::testing::Test {
 protected:
  void TearDown() override { cpu::set_num_threads(0); }
};

TEST_F(CpuAugment, ResultsAreBitIdenticalForOneTwoThreeThreads) {
  const DataSet d = random_images(28, 28, 300, 9);
  const auto index = random_index(128, d.count, 10);
  cpu::set_num_threads(1);
  const Batch first = run(&cpu::augment_batch, d, index, kTypical, 5);
  for (int threads : {2, 3}) {
    cpu::set_num_threads(threads);
    const Batch b = run(&cpu::augment_batch, d, index, kTypical, 5);
    EXPECT_TRUE(same_bits(b.x, first.x)) << threads << " threads";
    EXPECT_EQ(b.labels, first.labels);
  }
}

}  // namespace
}  // namespace digits
