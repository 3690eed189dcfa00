// preprocess: MNIST-like 28x28 inputs from synthetic drawings rendered here (anti-aliased strokes): scale,
// centring by mass, polarity, thin/thick strokes, empty canvases, and multi-digit segmentation; and the
// steps that read photographs of them (uneven light, ruled lines, specks, the table beside the sheet).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "image_io.h"
#include "preprocess.h"
#include "preprocess_steps.h"

namespace digits {
namespace {

// ---------------------------------------------------------------------------------------------------------
// drawing: anti-aliased capsules (round caps), coverage = clamp(r + 0.5 - distance, 0, 1)

struct Pt {
  double x, y;
};

class Sketch {
 public:
  Sketch(int w, int h) : w_(w), h_(h), cov_(size_t(w) * h, 0.f) {}

  void line(const std::vector<Pt>& pts, double width) {
    for (size_t i = 0; i + 1 < pts.size(); ++i) segment(pts[i], pts[i + 1], width / 2);
    if (pts.size() == 1) segment(pts[0], pts[0], width / 2);
  }
  void ellipse(double cx, double cy, double rx, double ry, double width) {
    std::vector<Pt> pts;
    for (int i = 0; i <= 96; ++i) {
      const double t = 2 * M_PI * i / 96;
      pts.push_back({cx + rx * std::sin(t), cy - ry * std::cos(t)});
    }
    line(pts, width);
  }
  void disc(double cx, double cy, double r) { segment({cx, cy}, {cx, cy}, r); }

  // Digit glyphs in a box of the given height (width 0.6 height) with its top-left at (x, y).
  void digit(char d, double x, double y, double height, double width) {
    const double gw = 0.6 * height;
    auto P = [&](double u, double v) { return Pt{x + u * gw, y + v * height}; };
    switch (d) {
      case '0': ellipse(x + gw / 2, y + height / 2, gw / 2, height / 2, width); break;
      case '1': line({P(0.5, 0), P(0.5, 1)}, width); break;
      case '2':
        line({P(0.05, 0.25), P(0.25, 0.02), P(0.7, 0.0), P(0.95, 0.2), P(0.9, 0.45), P(0.05, 1.0), P(1.0, 1.0)}, width);
        break;
      case '4': line({P(0.75, 1), P(0.75, 0), P(0.0, 0.65), P(1.0, 0.65)}, width); break;
      case '7': line({P(0.05, 0), P(0.95, 0), P(0.4, 1)}, width); break;
      default: FAIL() << "no glyph for " << d;
    }
  }

  GrayImage image(uint8_t bg = 0, uint8_t ink = 255) const {
    GrayImage img{w_, h_, std::vector<uint8_t>(cov_.size())};
    for (size_t i = 0; i < cov_.size(); ++i) img.pixels[i] = uint8_t(std::lround(bg + (ink - bg) * cov_[i]));
    return img;
  }

 private:
  void segment(Pt a, Pt b, double r) {
    const int x0 = std::max(0, int(std::floor(std::min(a.x, b.x) - r - 1)));
    const int x1 = std::min(w_ - 1, int(std::ceil(std::max(a.x, b.x) + r + 1)));
    const int y0 = std::max(0, int(std::floor(std::min(a.y, b.y) - r - 1)));
    const int y1 = std::min(h_ - 1, int(std::ceil(std::max(a.y, b.y) + r + 1)));
    const double dx = b.x - a.x, dy = b.y - a.y, len2 = dx * dx + dy * dy;
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        const double px = x + 0.5, py = y + 0.5;
        const double t = len2 > 0 ? std::clamp(((px - a.x) * dx + (py - a.y) * dy) / len2, 0.0, 1.0) : 0.0;
        const double d = std::hypot(px - (a.x + t * dx), py - (a.y + t * dy));
        float& c = cov_[size_t(y) * w_ + x];
        c = std::max(c, float(std::clamp(r + 0.5 - d, 0.0, 1.0)));
      }
  }

  int w_, h_;
  std::vector<float> cov_;
};

// ---------------------------------------------------------------------------------------------------------
// measuring a 28x28 input

struct Stats {
  double mass = 0, cx = 0, cy = 0;
  int x0 = 28, y0 = 28, x1 = -1, y1 = -1;  // bbox of pixels > 0.1, inclusive
  float max = 0, min = 1;
  int width() const { return x1 - x0 + 1; }
  int height() const { return y1 - y0 + 1; }
};

Stats measure(const DigitInput& d) {
  Stats s;
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) {
      const float v = d.pixels[size_t(y) * 28 + x];
      s.mass += v, s.cx += v * x, s.cy += v * y;
      s.max = std::max(s.max, v), s.min = std::min(s.min, v);
      if (v > 0.1f) s.x0 = std::min(s.x0, x), s.x1 = std::max(s.x1, x), s.y0 = std::min(s.y0, y), s.y1 = std::max(s.y1, y);
    }
  if (s.mass > 0) s.cx /= s.mass, s.cy /= s.mass;
  return s;
}

// The MNIST contract every non-empty input meets.
void expect_mnist_like(const DigitInput& d, const std::string& what) {
  const Stats s = measure(d);
  EXPECT_NEAR(s.cx, 14.0, 0.5) << what;
  EXPECT_NEAR(s.cy, 14.0, 0.5) << what;
  EXPECT_GE(std::max(s.width(), s.height()), 19) << what;
  EXPECT_LE(std::max(s.width(), s.height()), 22) << what;
  EXPECT_FLOAT_EQ(s.max, 1.f) << what;
  EXPECT_GE(s.min, 0.f) << what;
}

double max_abs_diff(const DigitInput& a, const DigitInput& b) {
  double m = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) m = std::max(m, double(std::fabs(a.pixels[i] - b.pixels[i])));
  return m;
}

double mean_abs_diff(const DigitInput& a, const DigitInput& b) {
  double s = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) s += std::fabs(a.pixels[i] - b.pixels[i]);
  return s / double(a.pixels.size());
}

Preprocessed one(const GrayImage& img, const std::string& what) {
  Preprocessed p = preprocess(img);
  EXPECT_FALSE(p.empty) << what;
  EXPECT_EQ(p.digits.size(), 1u) << what;
  return p;
}

// ---------------------------------------------------------------------------------------------------------
// one digit

TEST(PreprocessSingle, OffCentreDigitIsScaledAndCentredByMass) {
  Sketch s(400, 300);
  s.digit('7', 20, 30, 120, 12);  // top-left corner of the canvas
  const Preprocessed p = one(s.image(), "7");
  ASSERT_EQ(p.digits.size(), 1u);
  expect_mnist_like(p.digits[0], "off-centre 7");
  EXPECT_FALSE(p.inverted);
  const DigitInput& d = p.digits[0];  // the box is the stroke's extent (glyph 72 x 120 plus the pen)
  EXPECT_NEAR(d.x0, 20 + 0.05 * 72 - 6, 2);
  EXPECT_NEAR(d.y0, 30 - 6, 2);
  EXPECT_NEAR(d.x1, 20 + 0.95 * 72 + 6, 2);
  EXPECT_NEAR(d.y1, 30 + 120 + 6, 2);
}

TEST(PreprocessSingle, PositionOnTheCanvasDoesNotMatter) {
  Sketch a(300, 300), b(300, 300);
  a.digit('2', 30, 40, 100, 10);
  b.digit('2', 170, 150, 100, 10);
  const Preprocessed pa = one(a.image(), "a"), pb = one(b.image(), "b");
  ASSERT_EQ(pa.digits.size(), 1u);
  ASSERT_EQ(pb.digits.size(), 1u);
  EXPECT_LT(max_abs_diff(pa.digits[0], pb.digits[0]), 1e-4);
}

TEST(PreprocessSingle, TinyAndHugeDigitsGiveTheSameInput) {
  Sketch tiny(200, 200), mid(300, 300), huge(2400, 2400);
  tiny.digit('2', 90, 90, 14, 2);
  mid.digit('2', 80, 60, 140, 14);
  huge.digit('2', 200, 150, 2000, 200);  // exercises the shrink-first path too
  const Preprocessed pt = one(tiny.image(), "tiny"), pm = one(mid.image(), "mid"), ph = one(huge.image(), "huge");
  ASSERT_EQ(pt.digits.size() + pm.digits.size() + ph.digits.size(), 3u);
  expect_mnist_like(pt.digits[0], "tiny");
  expect_mnist_like(pm.digits[0], "mid");
  expect_mnist_like(ph.digits[0], "huge");
  EXPECT_LT(mean_abs_diff(pm.digits[0], ph.digits[0]), 0.03);
  EXPECT_LT(mean_abs_diff(pm.digits[0], pt.digits[0]), 0.08);  // 14 px tall: blurrier, same shape
  // The box is in the caller's coordinates even when the work copy was shrunk.
  EXPECT_NEAR(ph.digits[0].y0, 150 - 100, 4);
  EXPECT_NEAR(ph.digits[0].y1, 150 + 2000 + 100, 4);
}

TEST(PreprocessSingle, OneKeepsItsAspectAndIsCentred) {
  Sketch s(280, 280);
  s.digit('1', 60, 40, 200, 16);
  const Preprocessed p = one(s.image(), "1");
  ASSERT_EQ(p.digits.size(), 1u);
  expect_mnist_like(p.digits[0], "1");
  const Stats st = measure(p.digits[0]);
  EXPECT_GE(st.height(), 20);
  EXPECT_LE(st.width(), 4) << "a 1 must stay thin, not be stretched to a square";
  EXPECT_NEAR((st.x0 + st.x1) / 2.0, 14.0, 1.0);
}

TEST(PreprocessSingle, DarkOnLightEqualsLightOnDark) {
  Sketch s(320, 240);
  s.digit('4', 100, 40, 150, 14);
  GrayImage inverse = s.image();
  for (auto& v : inverse.pixels) v = uint8_t(255 - v);
  const Preprocessed light = one(s.image(), "light ink"), dark = one(inverse, "dark ink");
  ASSERT_EQ(light.digits.size() + dark.digits.size(), 2u);
  EXPECT_FALSE(light.inverted);
  EXPECT_TRUE(dark.inverted);
  EXPECT_LT(max_abs_diff(light.digits[0], dark.digits[0]), 1e-5);
}

TEST(PreprocessSingle, GreyPaperWithNoiseReadsLikeACleanDrawing) {
  Sketch s(300, 300);
  s.digit('2', 100, 60, 160, 14);
  GrayImage photo = s.image(190, 50);  // pencil on grey paper
  std::mt19937 rng(5);
  std::normal_distribution<double> noise(0, 6);
  for (auto& v : photo.pixels) v = uint8_t(std::clamp(v + noise(rng), 0.0, 255.0));
  const Preprocessed clean = one(s.image(), "clean"), p = one(photo, "photo");
  ASSERT_EQ(clean.digits.size() + p.digits.size(), 2u);
  EXPECT_TRUE(p.inverted);
  expect_mnist_like(p.digits[0], "photo");
  EXPECT_LT(mean_abs_diff(clean.digits[0], p.digits[0]), 0.03);
}

TEST(PreprocessSingle, ThinAndThickStrokesStayReadable) {
  // Stroke widths of 1.5 px and 40 px on the same 240 px tall 7.
  Sketch thin(400, 400), normal(400, 400), thick(400, 400);
  thin.digit('7', 100, 80, 240, 1.5);
  normal.digit('7', 100, 80, 240, 24);
  thick.digit('7', 100, 80, 240, 40);
  const Preprocessed pt = one(thin.image(), "thin"), pn = one(normal.image(), "normal"), pk = one(thick.image(), "thick");
  ASSERT_EQ(pt.digits.size() + pn.digits.size() + pk.digits.size(), 3u);
  expect_mnist_like(pt.digits[0], "thin");
  expect_mnist_like(pk.digits[0], "thick");
  const double mt = measure(pt.digits[0]).mass, mn = measure(pn.digits[0]).mass, mk = measure(pk.digits[0]).mass;
  // MNIST digits hold ~100 (mean pixel 0.13); a 1.5 px pen on a 240 px digit would give ~8 without thickening.
  EXPECT_GT(mt, 0.5 * mn) << "thin strokes are thickened towards MNIST's width";
  EXPECT_LT(mt, 1.5 * mn);
  EXPECT_GT(mk, mn);
}

TEST(PreprocessSingle, ValuesAreInUnitRangeWithBlackBackground) {
  Sketch s(100, 100);
  s.digit('0', 30, 20, 60, 8);
  const Preprocessed p = one(s.image(), "0");
  ASSERT_EQ(p.digits.size(), 1u);
  for (float v : p.digits[0].pixels) {
    ASSERT_GE(v, 0.f);
    ASSERT_LE(v, 1.f);
  }
  EXPECT_EQ(p.digits[0].pixels[0], 0.f);
  EXPECT_EQ(p.digits[0].pixels[14 * 28 + 14], 0.f) << "the hole of the 0 stays black";
}

TEST(PreprocessSingle, AlreadyMnistSizedInputStaysPut) {
  Sketch s(28, 28);
  s.digit('0', 14 - 6, 4, 20, 2.5);
  const Preprocessed p = one(s.image(), "28x28");
  ASSERT_EQ(p.digits.size(), 1u);
  expect_mnist_like(p.digits[0], "28x28");
}

// ---------------------------------------------------------------------------------------------------------
// empty

TEST(PreprocessEmpty, BlankCanvasesAreEmpty) {
  for (uint8_t v : {0, 128, 255}) {
    const Preprocessed p = preprocess(GrayImage{280, 280, std::vector<uint8_t>(280 * 280, v)});
    EXPECT_TRUE(p.empty) << int(v);
    EXPECT_TRUE(p.digits.empty());
  }
  EXPECT_TRUE(preprocess(GrayImage{1, 1, {255}}).empty);
  EXPECT_TRUE(preprocess(GrayImage{1, 1, {0}}).empty);
  EXPECT_TRUE(preprocess(GrayImage{}).empty);
  EXPECT_TRUE(preprocess(GrayImage{5, 5, {1, 2}}).empty) << "inconsistent image: no crash, no digit";
}

TEST(PreprocessEmpty, NoiseAndSpecksAreEmpty) {
  GrayImage noisy{300, 200, std::vector<uint8_t>(300 * 200)};
  std::mt19937 rng(9);
  for (auto& v : noisy.pixels) v = uint8_t(240 + rng() % 12);  // paper texture, contrast < 32 levels
  EXPECT_TRUE(preprocess(noisy).empty);

  Sketch dot(280, 280);
  dot.disc(140, 140, 1.5);  // a click without a stroke
  EXPECT_TRUE(preprocess(dot.image()).empty);

  Sketch scratch(280, 280);
  scratch.line({{100, 100}, {103, 101}}, 2);
  EXPECT_TRUE(preprocess(scratch.image()).empty);
}

TEST(PreprocessEmpty, ThresholdsComeFromTheOptions) {
  Sketch s(280, 280);
  s.line({{100, 100}, {120, 100}}, 3);  // ~60 ink pixels
  EXPECT_FALSE(preprocess(s.image()).empty);
  PreprocessOptions strict;
  strict.min_ink_pixels = 200;
  EXPECT_TRUE(preprocess(s.image(), strict).empty);
}

// ---------------------------------------------------------------------------------------------------------
// several digits

void expect_boxes_left_to_right(const Preprocessed& p) {
  for (size_t i = 1; i < p.digits.size(); ++i) EXPECT_LE(p.digits[i - 1].x1, p.digits[i].x0) << i;
}

TEST(PreprocessSegment, TwoDigitsSideBySide) {
  Sketch s(400, 200);
  s.digit('7', 220, 40, 120, 12);  // drawn right first: order comes from position, not stroke order
  s.digit('1', 80, 40, 120, 12);
  const Preprocessed p = preprocess(s.image());
  ASSERT_EQ(p.digits.size(), 2u);
  expect_boxes_left_to_right(p);
  EXPECT_NEAR(p.digits[0].x0, 80 + 36 - 6, 2);
  EXPECT_NEAR(p.digits[0].x1, 80 + 36 + 6, 2);
  EXPECT_NEAR(p.digits[1].x0, 220 + 0.05 * 72 - 6, 2);
  for (const DigitInput& d : p.digits) {
    EXPECT_NEAR(d.y0, 34, 2);
    EXPECT_NEAR(d.y1, 166, 2);
    expect_mnist_like(d, "pair");
  }
  // Each crop holds only its own digit: the 1 is thin.
  EXPECT_LE(measure(p.digits[0]).width(), 4);
}

TEST(PreprocessSegment, FourDigitsInOrder) {
  Sketch s(640, 240);
  const char* text = "2024";
  for (int i = 0; i < 4; ++i) s.digit(text[i], 40 + i * 150, 50 + (i % 2) * 20, 130, 13);  // a wavy baseline
  const Preprocessed p = preprocess(s.image(255, 30));
  ASSERT_EQ(p.digits.size(), 4u);
  expect_boxes_left_to_right(p);
  for (int i = 0; i < 4; ++i) {
    const DigitInput& d = p.digits[size_t(i)];
    EXPECT_NEAR(d.x0, 40 + i * 150 - 7, 8) << i;
    EXPECT_NEAR(d.y0, 50 + (i % 2) * 20 - 7, 3) << i;
    EXPECT_NEAR(d.y1 - d.y0, 130 + 13, 4) << i;
    expect_mnist_like(d, "digit " + std::to_string(i));
  }
  // The two 2s are the same drawing, so they give the same input.
  EXPECT_LT(max_abs_diff(p.digits[0], p.digits[2]), 1e-4);
}

TEST(PreprocessSegment, StrokesOfOneDigitAreMerged) {
  // A 4 drawn as two strokes that do not touch: the open "L" and the stem.
  Sketch four(300, 300);
  four.line({{130, 60}, {100, 160}, {160, 160}}, 8);
  four.line({{180, 50}, {180, 240}}, 8);
  Preprocessed p = preprocess(four.image());
  EXPECT_EQ(p.digits.size(), 1u) << "open 4";

  // A 5 whose flag was lifted off the body.
  Sketch five(300, 300);
  five.line({{120, 60}, {110, 140}, {150, 130}, {185, 160}, {185, 205}, {150, 235}, {110, 225}}, 10);
  five.line({{135, 55}, {195, 55}}, 10);
  p = preprocess(five.image());
  EXPECT_EQ(p.digits.size(), 1u) << "5 with a separate flag";

  // A 7 with a crossbar drawn across it but not touching (a gap at the stem).
  Sketch seven(300, 300);
  seven.digit('7', 100, 50, 200, 10);
  seven.line({{110, 150}, {140, 150}}, 10);
  seven.line({{165, 150}, {200, 150}}, 10);
  p = preprocess(seven.image());
  EXPECT_EQ(p.digits.size(), 1u) << "7 with crossbar";
}

TEST(PreprocessSegment, SpecksAreDropped) {
  Sketch s(300, 300);
  s.digit('1', 100, 50, 200, 12);
  s.disc(250, 30, 1.5);  // dust far away
  s.disc(40, 270, 2);
  const Preprocessed p = preprocess(s.image());
  ASSERT_EQ(p.digits.size(), 1u);
  EXPECT_GT(p.digits[0].x0, 100);
  EXPECT_LT(p.digits[0].x1, 180);
  EXPECT_LT(p.digits[0].y1, 260);
}

TEST(PreprocessSegment, TouchingDigitsAreSplitAtTheThinJoin) {
  // Two 0s joined by a thin slip of the pen: one component, much wider than tall.
  Sketch s(400, 200);
  s.ellipse(125, 100, 45, 70, 12);
  s.ellipse(265, 100, 45, 70, 12);
  s.line({{170, 100}, {220, 100}}, 4);
  const Preprocessed p = preprocess(s.image());
  ASSERT_EQ(p.digits.size(), 2u);
  expect_boxes_left_to_right(p);
  EXPECT_NEAR(p.digits[0].x0, 125 - 51, 3);
  EXPECT_NEAR(p.digits[1].x1, 265 + 51, 3);
  EXPECT_NEAR(p.digits[0].x1, 195, 3) << "cut in the middle of the join";
  EXPECT_NEAR(p.digits[1].x0, 195, 3);
  // Each is a 0 with half the join as a stub.
  Sketch single(400, 200);
  single.ellipse(125, 100, 45, 70, 12);
  const Preprocessed clean = preprocess(single.image());
  ASSERT_EQ(clean.digits.size(), 1u);
  EXPECT_LT(mean_abs_diff(p.digits[0], clean.digits[0]), 0.08);
  EXPECT_LT(mean_abs_diff(p.digits[1], clean.digits[0]), 0.08);
}

TEST(PreprocessSegment, WideSingleDigitIsNotSplit) {
  Sketch s(400, 200);
  s.ellipse(200, 100, 100, 60, 14);  // a flat 0, wider than tall, no valley
  const Preprocessed p = preprocess(s.image());
  EXPECT_EQ(p.digits.size(), 1u);
}

TEST(PreprocessSegment, SingleDigitModeKeepsAllInk) {
  Sketch s(400, 200);
  s.digit('1', 80, 40, 120, 12);
  s.digit('7', 220, 40, 120, 12);
  PreprocessOptions opt;
  opt.multi_digit = false;
  const Preprocessed p = preprocess(s.image(), opt);
  ASSERT_EQ(p.digits.size(), 1u);
  EXPECT_NEAR(p.digits[0].x0, 80 + 36 - 6, 2);
  EXPECT_NEAR(p.digits[0].x1, 220 + 0.95 * 72 + 6, 2);
  const Stats st = measure(p.digits[0]);
  EXPECT_NEAR(st.cx, 14.0, 0.5);
  EXPECT_NEAR(st.cy, 14.0, 0.5);
}

// ---------------------------------------------------------------------------------------------------------
// photographs: a drawing's coverage photographed under uneven light (the physical model of
// scripts/photo_digits.py: image = light * paper reflectance * ink), with optional ruled lines and dust

struct PhotoSetup {
  double falloff = 0.5;           // light falls off by this much from left to right
  double paper = 0.85, ink = 0.2;  // reflectances (ink: of the paper's)
  int line_spacing = 0;           // ruled lines every this many pixels (0: none), 2 px thick
  int dust = 0;                   // dark specks of 2x2 pixels
  double noise = 3;               // grey levels (sigma)
  bool chalk = false;             // light ink on a dark board instead
};

GrayImage photograph(const Sketch& s, const PhotoSetup& ps, unsigned seed = 3) {
  const GrayImage cov = s.image(0, 255);
  GrayImage img{cov.width, cov.height, std::vector<uint8_t>(cov.pixels.size())};
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0, ps.noise);
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      const double c = cov.at(x, y) / 255.0, light = 1 - ps.falloff * x / img.width;
      const bool line = ps.line_spacing > 0 && y % ps.line_spacing < 2;
      const double refl = ps.chalk ? 0.12 + 0.6 * c : ps.paper * (1 - (1 - ps.ink) * c) * (line ? 0.6 : 1.0);
      img.pixels[size_t(y) * img.width + x] = uint8_t(std::clamp(255 * light * refl + noise(rng), 0.0, 255.0));
    }
  for (int i = 0; i < ps.dust; ++i) {
    const int x = int(rng() % unsigned(img.width - 2)), y = int(rng() % unsigned(img.height - 2));
    for (int k = 0; k < 4; ++k) img.pixels[size_t(y + k / 2) * img.width + x + k % 2] /= 3;
  }
  return img;
}

TEST(PreprocessPhoto, BackgroundFollowsTheLightButNotTheStrokes) {
  Sketch s(480, 360);
  s.digit('2', 150, 80, 200, 16);
  const GrayImage img = photograph(s, {.noise = 0});
  int f = 0;
  const steps::Plane bg = steps::background(img, true, &f);
  ASSERT_GT(f, 1) << "estimated on a shrunk copy";
  ASSERT_EQ(bg.w, (img.width + f - 1) / f);
  // Inside the kernel's reach from the edges (a tenth of the side), where the closing does not flatten.
  const int r = std::min(bg.w, bg.h) / 10 + 1;
  for (int y = r; y < bg.h - r; ++y)
    for (int x = r; x < bg.w - r; ++x) {
      const double paper = 255 * 0.85 * (1 - 0.5 * (x + 0.5) * f / img.width);  // the light here, no ink
      ASSERT_NEAR(bg.at(x, y), paper, 0.03 * paper) << x << "," << y;
    }
  EXPECT_TRUE(steps::dark_ink(img));
  EXPECT_FALSE(steps::dark_ink(photograph(s, {.chalk = true})));
}

TEST(PreprocessPhoto, ContrastIsTheSameInTheLightAndInTheShade) {
  Sketch s(480, 240);
  s.digit('1', 60, 40, 160, 14);   // in the light
  s.digit('1', 380, 40, 160, 14);  // where the light has fallen to 30%
  const GrayImage img = photograph(s, {.falloff = 0.7, .noise = 0});
  const steps::Plane c = steps::contrast_map(img, true);
  const double left = c.at(60 + 48, 120), right = c.at(380 + 48, 120), paper = c.at(240, 120);  // the bars' centres
  EXPECT_NEAR(left, 0.8, 0.05) << "ink absorbs 80% of the light";
  EXPECT_NEAR(right, left, 0.05) << "whatever the light";
  EXPECT_NEAR(paper, 0.0, 0.03);
}

TEST(PreprocessPhoto, NoiseSigmaAndOtsuThreshold) {
  steps::Plane c{200, 100, std::vector<float>(200 * 100)};
  std::mt19937 rng(4);
  std::normal_distribution<float> noise(0, 0.02f);
  for (float& v : c.v) v = noise(rng);
  EXPECT_NEAR(steps::noise_sigma(c), 0.02, 0.002);
  // Texture at ~0.15, strokes at ~0.7: the threshold falls between them.
  for (int i = 0; i < 2000; ++i) c.v[size_t(i)] = 0.15f + noise(rng);
  for (int i = 2000; i < 3000; ++i) c.v[size_t(i)] = 0.7f + noise(rng);
  const float t = steps::otsu_threshold(c, 0.06f);
  EXPECT_GT(t, 0.2f);
  EXPECT_LT(t, 0.6f);
}

TEST(PreprocessPhoto, RuledLinesAreClearedStrokesStay) {
  const int w = 400, h = 300;
  std::vector<uint8_t> mask(size_t(w) * h, 0);
  const auto set = [&](int x, int y) { mask[size_t(y) * w + x] = 1; };
  for (int x = 0; x < w; ++x)
    for (int k = 0; k < 2; ++k) set(x, 100 + x / 40 + k), set(x, 200 + x / 40 + k);  // tilted, 2 px thick
  for (int y = 0; y < h; ++y) set(30, y), set(31, y);                                // a margin line
  for (int y = 80; y < 220; ++y)
    for (int x = 200; x < 210; ++x) set(x, y);  // a stroke crossing both lines
  for (int x = 250; x < 330; ++x)
    for (int y = 150; y < 158; ++y) set(x, y);  // a short horizontal stroke
  const std::vector<uint8_t> before = mask;
  EXPECT_GT(steps::clear_lines(mask, w, h), 2 * w);
  const auto on = [&](int x, int y) { return mask[size_t(y) * w + x] != 0; };
  EXPECT_FALSE(on(100, 102)) << "ruled line";
  EXPECT_FALSE(on(350, 208)) << "ruled line";
  EXPECT_FALSE(on(30, 50)) << "margin line";
  for (int y = 80; y < 220; ++y) EXPECT_TRUE(on(205, y)) << "the crossing stroke stays whole, y " << y;
  for (int x = 250; x < 330; ++x) EXPECT_TRUE(on(x, 154)) << "the short stroke stays, x " << x;
  std::vector<uint8_t> no_lines(size_t(w) * h, 0);
  for (int y = 90; y < 210; ++y) no_lines[size_t(y) * w + 100] = 1;  // 40% of the height
  EXPECT_EQ(steps::clear_lines(no_lines, w, h), 0) << "a lone stroke is no line";
}

TEST(PreprocessPhoto, UnevenLightLinesAndDustReadLikeTheDrawing) {
  Sketch s(720, 360);
  const char* text = "2024";
  for (int i = 0; i < 4; ++i) s.digit(text[i], 120 + i * 130, 110, 150, 12);  // sitting on a line at y 260
  const Preprocessed clean = preprocess(s.image());
  ASSERT_EQ(clean.digits.size(), 4u);
  const Preprocessed p = preprocess(photograph(s, {.line_spacing = 75, .dust = 40, .noise = 4}));
  ASSERT_EQ(p.digits.size(), 4u) << "no line, speck or shadow read as a digit";
  EXPECT_TRUE(p.inverted);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(p.digits[i].x0, clean.digits[i].x0, 3) << i;
    EXPECT_NEAR(p.digits[i].y0, clean.digits[i].y0, 3) << i;
    EXPECT_NEAR(p.digits[i].y1, clean.digits[i].y1, 3) << i;
    EXPECT_LT(mean_abs_diff(p.digits[i], clean.digits[i]), 0.06) << i;
  }
}

TEST(PreprocessPhoto, ChalkOnABoardAndTheTableBesideTheSheet) {
  Sketch s(480, 360);
  s.digit('7', 180, 80, 200, 16);
  const Preprocessed clean = one(s.image(), "clean");
  const Preprocessed chalk = one(photograph(s, {.chalk = true}), "chalk");
  ASSERT_EQ(chalk.digits.size(), 1u);
  EXPECT_FALSE(chalk.inverted);
  EXPECT_LT(mean_abs_diff(chalk.digits[0], clean.digits[0]), 0.05);
  GrayImage table = photograph(s, {});
  for (int y = 0; y < table.height; ++y)
    for (int x = 0; x < 50 + y / 20; ++x) table.pixels[size_t(y) * table.width + x] = 40;  // a dark table, the edge tilted
  const Preprocessed p = one(table, "table");
  ASSERT_EQ(p.digits.size(), 1u) << "the table's edge is no digit";
  EXPECT_NEAR(p.digits[0].x0, clean.digits[0].x0, 3);
  EXPECT_LT(mean_abs_diff(p.digits[0], clean.digits[0]), 0.05);
}


// A naive closing (max then min over the clipped (2r+1)^2 square) of the shrunk copy: the background the
// O(1) filter must reproduce exactly.
steps::Plane naive_closing(const GrayImage& small, int r) {
  const auto pass = [&](const steps::Plane& in, bool take_max) {
    steps::Plane out = in;
    for (int y = 0; y < in.h; ++y)
      for (int x = 0; x < in.w; ++x) {
        float m = in.at(x, y);
        for (int v = std::max(0, y - r); v <= std::min(in.h - 1, y + r); ++v)
          for (int u = std::max(0, x - r); u <= std::min(in.w - 1, x + r); ++u)
            m = take_max ? std::max(m, in.at(u, v)) : std::min(m, in.at(u, v));
        out.at(x, y) = m;
      }
    return out;
  };
  const steps::Plane p{small.width, small.height, std::vector<float>(small.pixels.begin(), small.pixels.end())};
  return pass(pass(p, true), false);
}

TEST(PreprocessPhoto, BackgroundFilterEqualsTheNaiveClosing) {
  Sketch s(630, 410);  // a coarse copy of 126 x 82: the radius (8) does not divide its sides
  s.digit('2', 150, 80, 200, 16);
  s.digit('4', 380, 60, 260, 30);
  const GrayImage img = photograph(s, {.dust = 30, .noise = 6});
  int f = 0;
  const steps::Plane bg = steps::background(img, true, &f);
  const steps::Plane want = naive_closing(steps::shrink(img, f), std::min(bg.w, bg.h) / 10);
  ASSERT_EQ(bg.v.size(), want.v.size());
  for (size_t i = 0; i < want.v.size(); ++i) ASSERT_EQ(bg.v[i], want.v[i]) << "pixel " << i;
}

// Paper or board texture: square blotches of side n, each scaled by 1 + N(0, sigma) (a reflectance).
void add_blotches(GrayImage& img, int n, double sigma, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> blob(0, sigma);
  for (int by = 0; by + n <= img.height; by += n)
    for (int bx = 0; bx + n <= img.width; bx += n) {
      const double k = 1 + blob(rng);
      for (int i = 0; i < n * n; ++i) {
        uint8_t& v = img.pixels[size_t(by + i / n) * img.width + bx + i % n];
        v = uint8_t(std::clamp(v * k, 0.0, 255.0));
      }
    }
}

TEST(PreprocessPhoto, PolarityIgnoresTheTableAndTheBoardsTexture) {
  Sketch s(480, 360);
  s.digit('7', 300, 110, 120, 6);  // small, beside a large dark table
  GrayImage table = photograph(s, {.falloff = 0.2});
  for (int y = 0; y < table.height; ++y)
    for (int x = 0; x < 200 - y / 10; ++x) table.pixels[size_t(y) * table.width + x] = 35;
  EXPECT_TRUE(steps::dark_ink(table)) << "the light sheet beside the table is no light ink";
  // Thin chalk on a dark, blotchy board: the blotches' dark deviations must not outweigh the stroke.
  Sketch chalk(640, 480);
  chalk.digit('7', 380, 140, 150, 3);
  GrayImage board = photograph(chalk, {.falloff = 0.4, .noise = 2, .chalk = true}, 9);
  add_blotches(board, 10, 0.2, 6);
  EXPECT_FALSE(steps::dark_ink(board)) << "chalk";
  // A thin 7 on strongly textured paper (the coarse copy averages the stroke away): full resolution decides.
  Sketch thin(640, 480);
  thin.digit('7', 400, 150, 90, 3);
  GrayImage grain = photograph(thin, {.falloff = 0.1, .noise = 3});
  add_blotches(grain, 4, 0.05, 5);
  EXPECT_TRUE(steps::dark_ink(grain)) << "thin ink on textured paper";
}

TEST(PreprocessPhoto, TiltedRuledLinesAreClearedAThickBarStays) {
  const int w = 500, h = 400;
  std::vector<uint8_t> mask(size_t(w) * h, 0);
  const auto set = [&](int x, int y) {
    if (x >= 0 && x < w && y >= 0 && y < h) mask[size_t(y) * w + x] = 1;
  };
  const double slope = std::tan(11 * M_PI / 180);  // a sheet turned by 11 degrees
  for (int x = 0; x < w; ++x)
    for (int k = 0; k < 2; ++k) set(x, int(60 + x * slope) + k), set(x, int(160 + x * slope) + k);
  // (2 px thick, as a photo's ruled lines after blur: a 1 px staircase against the rounded shear costs steps)
  for (int y = 0; y < h; ++y) set(int(120 - y * slope), y), set(int(121 - y * slope), y);  // the margin line
  // A line that fades out: found along its first 330 px; a piece 130 px further on is too short for a line
  // by itself, but lies on the same line.
  for (int x = 0; x < 330; ++x) set(x, int(250 + x * slope)), set(x, int(251 + x * slope));
  for (int x = 460; x < 480; ++x) set(x, int(250 + x * slope)), set(x, int(251 + x * slope));
  for (int y = 150; y < 230; ++y)
    for (int x = 300; x < 306; ++x) set(x, y);  // a stroke crossing the second line
  for (int y = 340; y < 372; ++y)
    for (int x = 40; x < 460; ++x) set(x, y);  // a thick bar (a large 4's crossbar), longer than 0.6 of the width
  EXPECT_GT(steps::clear_lines(mask, w, h), 3 * w);
  const auto on = [&](int x, int y) { return mask[size_t(y) * w + x] != 0; };
  for (int x = 0; x < w; x += 50) EXPECT_FALSE(on(x, int(60 + x * slope))) << "tilted line, x " << x;
  EXPECT_FALSE(on(int(120 - 200 * slope), 200)) << "tilted margin line";
  for (int x = 460; x < 480; ++x) EXPECT_FALSE(on(x, int(250 + x * slope))) << "the faded line's remains, x " << x;
  for (int y = 150; y < 230; ++y) EXPECT_TRUE(on(303, y)) << "the crossing stroke stays whole, y " << y;
  for (int x = 40; x < 460; x += 20) EXPECT_TRUE(on(x, 356)) << "a thick bar is no ruled line, x " << x;
}

TEST(PreprocessPhoto, DeepShadowFaintSmudgesAndTheFrame) {
  Sketch s(640, 480);
  s.digit('1', 420, 120, 200, 8);
  // Two thirds of the sheet in a deep shadow: the image's median is the shadow, the ink is not "faint".
  GrayImage img = photograph(s, {.falloff = 0, .noise = 2});
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < 400 - y / 8; ++x) img.pixels[size_t(y) * img.width + x] = uint8_t(img.at(x, y) * 0.3);
  const Preprocessed shade = one(img, "shadow");
  ASSERT_EQ(shade.digits.size(), 1u);
  EXPECT_GT(shade.digits[0].x0, 410);
  // A faint smudge (texture, never reaching the strokes' contrast) beside the digit: neither read as a
  // digit nor joined to it.
  GrayImage smudge = photograph(s, {.falloff = 0.1, .noise = 2});
  for (int y = 200; y < 260; ++y)
    for (int x = 200; x < 260; ++x) smudge.pixels[size_t(y) * smudge.width + x] -= uint8_t(12 + (x + y) % 5);
  const Preprocessed p = one(smudge, "smudge");
  ASSERT_EQ(p.digits.size(), 1u) << "the smudge is no digit";
  EXPECT_GT(p.digits[0].x0, 410);
  // A digit near the frame, tied to it only by faint texture, stays whole.
  Sketch low(640, 480);
  low.digit('7', 300, 300, 160, 10);  // its foot 20 px from the bottom
  GrayImage near = photograph(low, {.falloff = 0.1, .noise = 2});
  for (int y = 458; y < 480; ++y)
    for (int x = 330; x < 336; ++x) near.pixels[size_t(y) * near.width + x] -= 14;
  Sketch clean(640, 480);
  clean.digit('7', 300, 300, 160, 10);
  const Preprocessed want = one(clean.image(), "clean");
  const Preprocessed got = one(near, "near the frame");
  ASSERT_EQ(got.digits.size(), 1u);
  EXPECT_NEAR(got.digits[0].y1, want.digits[0].y1, 3) << "its foot is kept";
  EXPECT_LT(mean_abs_diff(got.digits[0], want.digits[0]), 0.06);
}

}  // namespace
}  // namespace digits
