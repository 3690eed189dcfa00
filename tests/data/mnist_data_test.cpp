// The real MNIST, found like the program finds it (MNIST_DIR, data/mnist, ...): sizes, labels, pixels
// and the data set's checksum. Skips without the data; fails instead when DIGITS_REQUIRE_DATA=1.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <numeric>

#include "mnist_idx.h"
#include "testing/mnist_fixture.h"

namespace digits {
namespace {

// CRC-32 of the canonical data bytes (train images, train labels, test images, test labels; headers
// excluded). The files' SHA-256 sums in data/README.md pin the content, so this value is fixed.
constexpr uint32_t kCanonicalCrc32 = 0x1939f699u;

TEST(MnistData, HasCanonicalCountsAndSizes) {
  DIGITS_REQUIRE_MNIST(mnist);
  EXPECT_EQ(mnist->train.count, 60000);
  EXPECT_EQ(mnist->test.count, 10000);
  for (const Dataset* ds : {&mnist->train, &mnist->test}) {
    EXPECT_EQ(ds->rows, 28);
    EXPECT_EQ(ds->cols, 28);
    EXPECT_EQ(ds->pixels(), 784);
    EXPECT_EQ(ds->images.size(), size_t(ds->count) * 784);
    EXPECT_EQ(ds->labels.size(), size_t(ds->count));
  }
}

TEST(MnistData, LabelHistogramIsSane) {
  DIGITS_REQUIRE_MNIST(mnist);
  for (const Dataset* ds : {&mnist->train, &mnist->test}) {
    std::array<int, 10> hist{};
    for (uint8_t l : ds->labels) {
      ASSERT_LE(l, 9);
      ++hist[l];
    }
    for (int c = 0; c < 10; ++c) {
      EXPECT_GE(hist[c], 800) << "class " << c;
      EXPECT_LE(hist[c], 7000) << "class " << c;
    }
    EXPECT_EQ(std::accumulate(hist.begin(), hist.end(), 0), ds->count);
  }
  // The first digits of each split are well known: a 5 and a 7.
  EXPECT_EQ(mnist->train.labels[0], 5);
  EXPECT_EQ(mnist->test.labels[0], 7);
}

TEST(MnistData, PixelsLookLikeMnist) {
  DIGITS_REQUIRE_MNIST(mnist);
  for (const Dataset* ds : {&mnist->train, &mnist->test}) {
    const auto [lo, hi] = std::minmax_element(ds->images.begin(), ds->images.end());
    EXPECT_EQ(*lo, 0);
    EXPECT_EQ(*hi, 255);
    // white digits on a black background: most pixels are 0 and the mean is about 33
    const double mean = std::accumulate(ds->images.begin(), ds->images.end(), 0.0) / double(ds->images.size());
    EXPECT_GT(mean, 25.0);
    EXPECT_LT(mean, 45.0);
    const auto zeros = std::count(ds->images.begin(), ds->images.end(), uint8_t(0));
    EXPECT_GT(double(zeros) / double(ds->images.size()), 0.7);
    // no image is blank
    for (int i = 0; i < ds->count; ++i) {
      const uint8_t* img = ds->images.data() + size_t(i) * size_t(ds->pixels());
      ASSERT_GT(*std::max_element(img, img + ds->pixels()), 0) << "image " << i << " is blank";
    }
  }
}

TEST(MnistData, ChecksumIsStableAndCanonical) {
  DIGITS_REQUIRE_MNIST(mnist);
  const Mnist again = load_mnist(mnist->dir);
  EXPECT_EQ(again.crc32, mnist->crc32);
  EXPECT_EQ(mnist->crc32, kCanonicalCrc32) << "the data in " << mnist->dir << " differs from the canonical MNIST";
  EXPECT_EQ(again.train.images, mnist->train.images);
  EXPECT_EQ(again.test.labels, mnist->test.labels);
}

TEST(MnistData, FinderReturnsTheLoadedDirectory) {
  DIGITS_REQUIRE_MNIST(mnist);
  EXPECT_EQ(find_mnist_dir(""), mnist->dir);
  EXPECT_EQ(find_mnist_dir(mnist->dir), mnist->dir);
}

}  // namespace
}  // namespace digits
