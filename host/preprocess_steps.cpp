// The steps of preprocess() that read photographs (see preprocess_steps.h): the background estimated on a
// shrunk copy and divided out, a noise floor and Otsu's threshold, ruled lines cleared.
#include "preprocess_steps.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <utility>
#include <vector>

namespace digits::steps {
namespace {

// clang-format off
constexpr int   kCoarseSide    = 128;    // the background is estimated on a copy at most this large,
constexpr int   kBackgroundKernel = 5;   // with a closing/opening kernel of 1/this of its shorter side
constexpr float kPolarityMin   = 4.f;    // polarity: thin deviations count beyond this many grey levels
constexpr float kPolarityNoise = 3.f;    // ... and beyond this many sigmas of the texture
constexpr float kPolarityClear = 3.f;    // ... one side outweighs the other this many times or, failing that,
constexpr double kPolarityWeak = 0.15;   // ... by more than this many levels a sample on average; else
constexpr int   kFineRadius    = 3;      // ... thin strokes decide at full resolution (top-hats of this radius)
constexpr double kFineQuantile = 0.95;   // ... beyond this quantile of the local range (texture; strokes are fewer)
constexpr double kTailShare    = 1e-4;   // the ink's reach: the extremes past this share of the pixels are ignored
constexpr float kMinNoise      = 0.004f; // the background's noise sigma, at least (contrast units; ~1 grey level)
constexpr float kNoiseSigmas   = 3.f;    // ink starts this many noise sigmas above the background
constexpr float kCoreQuantile  = 0.9f;   // ink reaches 1 at this quantile of the pixels above Otsu's threshold
constexpr float kFrameBand     = 0.22f;  // what touches the frame is cleared up to this share of the image in
constexpr float kLineSigmas    = 3.f;    // ruled lines are looked for among the pixels this many sigmas above
constexpr float kLineLengthX   = 0.6f;   // a ruled line runs along at least this share of the width (net of:)
constexpr float kLineLengthY   = 0.75f;  // ... a margin line of the height (a digit's stem may be 0.6 of it)
constexpr int   kLineStep      = 4;      // ... the cost of each one-pixel step across it
constexpr int   kLineMaxThick  = 6;      // ... steps only between pixels in runs across this thin (or 1% of the side)
constexpr int   kLineGap       = 1;      // ... and of each pixel of a gap in it
constexpr double kLineThickQuantile = 0.9; // a line is as thick as this quantile of the runs across long paths
constexpr int   kLineThickMargin = 1;    // ... plus this (a stroke lying on a line is thicker together)
constexpr int   kGrowSteps     = 10;     // faint ink is kept at most this many pixels from ink at Otsu's threshold
constexpr double kLineMaxAngle = 15;     // ruled lines are looked for up to this many degrees from level,
constexpr double kLineAngleStep = 0.5;   // ... at angles this far apart
// clang-format on

// Min or max over the window [i - r, i + r] (clipped at the ends) of n values read at `stride`, into dst (same
// stride): van Herk/Gil-Werman, about three comparisons per value whatever r. The line is padded by r
// neutral values at each end and cut into blocks of k = 2r + 1; a window spans the suffix of one block (h)
// and the prefix of the next (g).
void rank_line(const float* src, float* dst, int n, size_t stride, int r, bool take_max, std::vector<float>& g,
               std::vector<float>& h) {
  const int k = 2 * r + 1, m = n + 2 * r;
  const float neutral = take_max ? -1e30f : 1e30f;
  const auto pick = [take_max](float a, float b) { return take_max ? std::max(a, b) : std::min(a, b); };
  const auto x = [&](int i) { return i < r || i >= n + r ? neutral : src[size_t(i - r) * stride]; };
  g.resize(size_t(m)), h.resize(size_t(m));
  for (int i = 0; i < m; ++i) g[size_t(i)] = i % k == 0 ? x(i) : pick(g[size_t(i) - 1], x(i));
  for (int i = m - 1; i >= 0; --i) h[size_t(i)] = i % k == k - 1 || i == m - 1 ? x(i) : pick(h[size_t(i) + 1], x(i));
  for (int i = 0; i < n; ++i) dst[size_t(i) * stride] = pick(h[size_t(i)], g[size_t(i + 2 * r)]);
}

// Separable min or max over a (2r+1)^2 square, same size (the window is clipped at the edges).
Plane rank_filter(const Plane& src, int r, bool take_max) {
  Plane tmp = src, out = src;
  std::vector<float> g, h;
  for (int y = 0; y < src.h; ++y)
    rank_line(&src.v[size_t(y) * src.w], &tmp.v[size_t(y) * src.w], src.w, 1, r, take_max, g, h);
  for (int x = 0; x < src.w; ++x) rank_line(&tmp.v[size_t(x)], &out.v[size_t(x)], src.h, size_t(src.w), r, take_max, g, h);
  return out;
}

// A copy shrunk so that its longer side is at most kCoarseSide, as floats; *factor: the shrink factor.
Plane coarse_copy(const GrayImage& img, int* factor) {
  *factor = std::max(1, (std::max(img.width, img.height) + kCoarseSide - 1) / kCoarseSide);
  const GrayImage small = *factor > 1 ? shrink(img, *factor) : img;
  return Plane{small.width, small.height, std::vector<float>(small.pixels.begin(), small.pixels.end())};
}

// The radius of the background's kernel on the coarse copy: a tenth of its shorter side (the kernel is a
// fifth), wider than any stroke.
int kernel_radius(const Plane& coarse) { return std::max(1, std::min(coarse.w, coarse.h) / kBackgroundKernel / 2); }

// The paper (or board) without the writing: a closing (max, then min) removes dark strokes, an opening
// light ones, as long as they are thinner than the kernel; light falling off, shadows and the edge of the
// sheet are larger and stay.
Plane background_of(const Plane& coarse, int r, bool dark_ink) {
  return rank_filter(rank_filter(coarse, r, dark_ink), r, !dark_ink);
}

// The median of the values (reordered).
float median_in_place(std::vector<float>& v) {
  const auto mid = v.begin() + std::ptrdiff_t(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

// The median of the coarse plane over the (2r+1)^2 window around (x, y), clipped at the edges, from every
// other pixel of every other row of it (a quarter of the work; the median hardly moves).
float local_median(const Plane& coarse, int x, int y, int r, std::vector<float>& win) {
  win.clear();
  for (int v = std::max(0, y - r); v <= std::min(coarse.h - 1, y + r); v += 2)
    for (int u = std::max(0, x - r); u <= std::min(coarse.w - 1, x + r); u += 2) win.push_back(coarse.at(u, v));
  return median_in_place(win);
}

// Dark ink or light at full resolution, for when the coarse copy cannot tell (thin strokes on a strong
// texture, averaged away): thin dark structures (the black top-hat of radius kFineRadius) against thin light
// ones (the white top-hat), each counted beyond the texture's typical local range (the median of closing -
// opening) and kPolarityMin levels.
bool dark_ink_fine(const GrayImage& img) {
  const Plane p{img.width, img.height, std::vector<float>(img.pixels.begin(), img.pixels.end())};
  const Plane close = rank_filter(rank_filter(p, kFineRadius, true), kFineRadius, false);
  const Plane open = rank_filter(rank_filter(p, kFineRadius, false), kFineRadius, true);
  std::vector<float> range;
  for (size_t i = 0; i < p.v.size(); i += 7) range.push_back(close.v[i] - open.v[i]);
  const auto q = range.begin() + std::ptrdiff_t(double(range.size()) * kFineQuantile);
  std::nth_element(range.begin(), q, range.end());
  const float thr = std::max(kPolarityMin, *q);
  double d = 0, l = 0;
  for (size_t i = 0; i < p.v.size(); ++i)
    d += std::max(0.f, close.v[i] - p.v[i] - thr), l += std::max(0.f, p.v[i] - open.v[i] - thr);
  return d >= l;
}

// Dark ink or light, sampled at every other coarse pixel: a pixel is dark writing when it lies below both
// the local median (which follows light, shadows and the sheet's edges, but not thin strokes) and the
// closing (which keeps every large region: a table beside the sheet, the sheet's corners, the board); light
// writing when above the median and the opening (the paper inside a loop is above the opening, never
// above the median). In grey levels, so paper and board weigh alike; deviations count beyond
// kPolarityNoise sigmas of the texture (the deviations from the median) and kPolarityMin levels. When
// neither side clearly wins and both are weak (thin strokes averaged away on the coarse copy, a texture as
// strong), the full-resolution image decides (dark_ink_fine).
bool dark_ink_from(const GrayImage& img, const Plane& coarse, int r, const Plane& close, const Plane& open) {
  std::vector<float> dark, light, spread, win;
  for (int y = 0; y < coarse.h; y += 2)
    for (int x = 0; x < coarse.w; x += 2) {
      const float v = coarse.at(x, y), med = local_median(coarse, x, y, r, win);
      dark.push_back(std::min(med - v, close.at(x, y) - v));
      light.push_back(std::min(v - med, v - open.at(x, y)));
      spread.push_back(std::fabs(v - med));
    }
  const float thr = std::max(kPolarityMin, kPolarityNoise * 1.4826f * median_in_place(spread));
  double d = 0, l = 0;
  for (size_t i = 0; i < dark.size(); ++i) d += std::max(0.f, dark[i] - thr), l += std::max(0.f, light[i] - thr);
  const bool weak = std::max(d, l) < kPolarityWeak * double(dark.size());  // thin strokes, averaged away
  if (weak && std::max(d, l) < kPolarityClear * std::min(d, l)) return dark_ink_fine(img);
  return d >= l;
}

// The background at full-resolution pixel (x, y) from the coarse plane (shrunk by f): the darker (for dark
// ink; else the lighter) of the four nearest coarse samples, so that at the sheet's edge the table's side
// is compared with the table, never with an average of table and paper.
float upsample(const Plane& p, int f, int x, int y, bool dark_ink) {
  const int u = std::clamp(int(std::floor((float(x) + 0.5f) / float(f) - 0.5f)), 0, p.w - 1);
  const int v = std::clamp(int(std::floor((float(y) + 0.5f) / float(f) - 0.5f)), 0, p.h - 1);
  const int u1 = std::min(u + 1, p.w - 1), v1 = std::min(v + 1, p.h - 1);
  const float a = std::min(p.at(u, v), p.at(u1, v)), b = std::min(p.at(u, v1), p.at(u1, v1));
  const float c = std::max(p.at(u, v), p.at(u1, v)), d = std::max(p.at(u, v1), p.at(u1, v1));
  return dark_ink ? std::min(a, b) : std::max(c, d);
}

// Contrast against the background: for dark ink the fraction of the light it absorbs, (bg - v) / bg, which
// does not change with the light falling on it; for light ink (v - bg) / (255 - bg). Negative on the wrong
// side of the background. *reach: how far the ink gets from the background, in grey levels, past the few
// most extreme pixels (kTailShare: dust, a glint); too little is "no ink".
Plane contrast_against(const GrayImage& img, const Plane& bg, int f, bool dark_ink, int* reach) {
  Plane c{img.width, img.height, std::vector<float>(img.pixels.size())};
  uint64_t hist[256] = {};
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      const float b = upsample(bg, f, x, y, dark_ink), v = img.at(x, y);
      c.at(x, y) = dark_ink ? (b - v) / std::max(b, 1.f) : (v - b) / std::max(255.f - b, 1.f);
      ++hist[std::clamp(int(dark_ink ? b - v : v - b), 0, 255)];
    }
  const uint64_t tail = std::max<uint64_t>(4, uint64_t(kTailShare * double(img.pixels.size())));
  int hi = 255;
  for (uint64_t acc = 0; hi > 0 && (acc += hist[hi]) < tail;) --hi;
  *reach = hi;
  return c;
}

// The value below which `q` of the values above `lo` lie.
float quantile_above(const Plane& c, float lo, float q) {
  std::vector<float> s;
  for (float v : c.v)
    if (v >= lo) s.push_back(v);
  if (s.empty()) return lo;
  const auto k = s.begin() + std::ptrdiff_t(std::min(s.size() - 1, size_t(q * double(s.size()))));
  std::nth_element(s.begin(), k, s.end());
  return *k;
}

// What is left of the lines where they broke up (faint, noisy): on every position across that a line was
// cleared along for at least `along` pixels, the runs across no thicker than `limit` (a stroke that crosses
// the line is a longer run and stays).
int clear_line_remains(std::vector<uint8_t>& mask, int n_along, int n, const std::vector<int>& per_row, int along,
                       int limit) {
  int cleared = 0;
  for (int a = 0; a < n_along; ++a) {
    uint8_t* row = mask.data() + size_t(a) * n;
    for (int i = 0; i < n;) {
      int i1 = i;
      bool on_line = false;
      while (i1 < n && row[i1]) on_line |= per_row[size_t(i1)] >= along, ++i1;
      if (on_line && i1 - i <= limit) std::fill(row + i, row + i1, 0), cleared += i1 - i;
      i = i1 + (i1 == i);
    }
  }
  return cleared;
}

// Ruled lines (and other thin lines across the image: a margin line, a fold) in a mask stored as n_along
// rows of n_across (the line runs along the rows' index): pixels on a path at least `length` long that
// runs mostly along (each one-pixel step across costs kLineStep and is taken only between thin pixels of
// the mask; each pixel of a gap costs kLineGap, so steep strokes never make a long path), in a run across no thicker than the lines themselves: the 90th percentile
// of the runs on long paths, plus 1 px, so a stroke lying on a line (thicker together) and a stroke
// crossing it (a long run) stay. Returns how many pixels were cleared.
int clear_lines_along(std::vector<uint8_t>& mask, int n_along, int n_across, int length) {
  const int n = n_across;
  // thin[i]: a mask pixel in a run across no longer than a line can be thick (steps are taken only between
  // thin pixels, so a path never climbs along a stroke that crosses or touches the line)
  const int max_thick = std::max(kLineMaxThick, std::min(n_along, n_across) / 100);
  std::vector<uint8_t> thin(mask.size(), 0);
  for (size_t row = 0; row < mask.size(); row += size_t(n))
    for (int i = 0; i < n;) {
      int i1 = i;
      while (i1 < n && mask[row + i1]) ++i1;
      for (int k = i; k < i1; ++k) thin[row + k] = i1 - i <= max_thick;
      i = i1 + (i1 == i);
    }
  std::vector<int> fwd(mask.size()), bwd(mask.size());
  const auto sweep = [&](std::vector<int>& d, int a, int prev) {
    for (int i = 0; i < n; ++i) {
      const bool on = mask[size_t(a) * n + i], step = thin[size_t(a) * n + i];
      int best = 0;
      if (prev >= 0) {  // straight on from anywhere; a step across only between thin pixels
        const int* p = d.data() + size_t(prev) * n;
        const uint8_t* pt = thin.data() + size_t(prev) * n;
        best = p[i];
        if (step && i > 0 && pt[i - 1]) best = std::max(best, p[i - 1] - kLineStep);
        if (step && i + 1 < n && pt[i + 1]) best = std::max(best, p[i + 1] - kLineStep);
      }
      d[size_t(a) * n + i] = on ? best + 1 : std::max(0, best - kLineGap);
    }
  };
  for (int a = 0; a < n_along; ++a) sweep(fwd, a, a - 1);
  for (int a = n_along - 1; a >= 0; --a) sweep(bwd, a, a + 1 < n_along ? a + 1 : -1);
  std::vector<std::array<int, 3>> runs;  // runs across that touch a long path: (a, i0, i1)
  for (int a = 0; a < n_along; ++a) {
    const size_t row = size_t(a) * n;
    for (int i = 0; i < n;) {
      if (!mask[row + i]) {
        ++i;
        continue;
      }
      int i1 = i, longest = 0;
      for (; i1 < n && mask[row + i1]; ++i1) longest = std::max(longest, fwd[row + i1] + bwd[row + i1] - 1);
      if (longest >= length && i1 - i <= max_thick) runs.push_back({a, i, i1});
      i = i1;
    }
  }
  if (runs.empty()) return 0;
  std::vector<int> thick;
  for (const auto& r : runs) thick.push_back(r[2] - r[1]);
  const auto q = thick.begin() + std::ptrdiff_t(double(thick.size() - 1) * kLineThickQuantile);
  std::nth_element(thick.begin(), q, thick.end());
  const int limit = *q + kLineThickMargin;
  int cleared = 0;
  std::vector<int> per_row(size_t(n), 0);  // cleared pixels at each position across: the lines' rows
  for (const auto& r : runs)
    if (r[2] - r[1] <= limit)
      for (int i = r[1]; i < r[2]; ++i) mask[size_t(r[0]) * n + i] = 0, ++cleared, ++per_row[size_t(i)];
  return cleared + clear_line_remains(mask, n_along, n, per_row, length / 2, limit);
}

std::vector<uint8_t> transpose(const std::vector<uint8_t>& m, int w, int h) {
  std::vector<uint8_t> t(m.size());
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) t[size_t(x) * h + y] = m[size_t(y) * w + x];
  return t;
}

// Clears the pixels of the mask connected (8-neighbours) to the image's border, within the band of
// kFrameBand of the width and height along it: the table beside the sheet, the ends of ruled lines, texture
// at the frame. A pixel of stroke strength (contrast c at least t) is followed only from the border or from
// another one: faint texture may lead from the frame to a digit near it, but the digit stays (its faint
// rim goes). A digit that a line's remains connect to the border is never followed further in.
void clear_touching_frame(std::vector<uint8_t>& mask, const Plane& c, float t) {
  const int w = c.w, h = c.h;
  const int bx = int(kFrameBand * float(w)), by = int(kFrameBand * float(h));
  std::vector<int32_t> stack;
  const auto push = [&](int x, int y, bool from_strong) {
    const size_t i = size_t(y) * w + x;
    const bool in_band = x < bx || x >= w - bx || y < by || y >= h - by;
    if (mask[i] && in_band && (from_strong || c.v[i] < t)) mask[i] = 0, stack.push_back(int32_t(i));
  };
  for (int x = 0; x < w; ++x) push(x, 0, true), push(x, h - 1, true);
  for (int y = 0; y < h; ++y) push(0, y, true), push(w - 1, y, true);
  while (!stack.empty()) {
    const int x = stack.back() % w, y = stack.back() / w;
    const bool strong = c.v[size_t(stack.back())] >= t;
    stack.pop_back();
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx)
        if (x + dx >= 0 && x + dx < w && y + dy >= 0 && y + dy < h) push(x + dx, y + dy, strong);
  }
}

// Ink levels by hysteresis: the pixels of the mask 8-connected (within the mask, and at most kGrowSteps
// steps away) to a pixel at or above the threshold t get (c - floor) / (top - floor), clamped to [0, 1]; the
// rest 0. A stroke keeps its faint and anti-aliased parts; texture that never reaches t goes, and so does a
// faint smudge of texture beside a stroke past its anti-aliased rim (it would join two digits).
Plane ink_levels(const Plane& c, std::vector<uint8_t>& mask, float floor, float t, float top) {
  const int w = c.w, h = c.h;
  Plane ink{w, h, std::vector<float>(c.v.size(), 0.f)};
  std::vector<int32_t> queue;  // breadth first, so that `steps` is the distance from the nearest seed
  std::vector<uint8_t> steps(c.v.size(), 0);
  const auto take = [&](size_t i, int k) {
    ink.v[i] = std::clamp((c.v[i] - floor) / (top - floor), 0.f, 1.f);
    mask[i] = 0, steps[i] = uint8_t(k);
    queue.push_back(int32_t(i));
  };
  for (size_t i = 0; i < c.v.size(); ++i)
    if (mask[i] && c.v[i] >= t) take(i, 0);
  for (size_t head = 0; head < queue.size(); ++head) {
    const int x = queue[head] % w, y = queue[head] / w, k = steps[size_t(queue[head])] + 1;
    if (k > kGrowSteps) continue;
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx)
        if (x + dx >= 0 && x + dx < w && y + dy >= 0 && y + dy < h && mask[size_t(y + dy) * w + x + dx])
          take(size_t(y + dy) * w + x + dx, c.v[size_t(y + dy) * w + x + dx] >= t ? 0 : k);
  }
  return ink;
}

}  // namespace

// Integer box-average by `f` (each output pixel is the mean of an f x f block, partial blocks at the edges).
GrayImage shrink(const GrayImage& img, int f) {
  GrayImage out;
  out.width = (img.width + f - 1) / f;
  out.height = (img.height + f - 1) / f;
  out.pixels.resize(size_t(out.width) * out.height);
  std::vector<uint32_t> sum(out.width), cnt(out.width);
  for (int oy = 0; oy < out.height; ++oy) {
    std::fill(sum.begin(), sum.end(), 0u);
    std::fill(cnt.begin(), cnt.end(), 0u);
    for (int y = oy * f; y < std::min(img.height, (oy + 1) * f); ++y)
      for (int x = 0; x < img.width; ++x) sum[x / f] += img.at(x, y), cnt[x / f]++;
    for (int ox = 0; ox < out.width; ++ox)
      out.pixels[size_t(oy) * out.width + ox] = uint8_t((sum[ox] + cnt[ox] / 2) / cnt[ox]);
  }
  return out;
}

bool dark_ink(const GrayImage& img) {
  int f = 1;
  const Plane coarse = coarse_copy(img, &f);
  const int r = kernel_radius(coarse);
  return dark_ink_from(img, coarse, r, background_of(coarse, r, true), background_of(coarse, r, false));
}

Plane background(const GrayImage& img, bool dark_ink, int* factor) {
  const Plane coarse = coarse_copy(img, factor);
  return background_of(coarse, kernel_radius(coarse), dark_ink);
}

Plane contrast_map(const GrayImage& img, bool dark_ink) {
  int f = 1;
  const Plane bg = background(img, dark_ink, &f);
  int reach = 0;
  return contrast_against(img, bg, f, dark_ink, &reach);
}

// The noise of the background in contrast units: the median absolute deviation of a sample, as a sigma.
float noise_sigma(const Plane& c) {
  std::vector<float> s;
  const size_t step = std::max<size_t>(1, c.v.size() / 65536);
  for (size_t i = 0; i < c.v.size(); i += step) s.push_back(c.v[i]);
  const float med = median_in_place(s);
  for (float& v : s) v = std::fabs(v - med);
  return std::max(1.4826f * median_in_place(s), kMinNoise);
}

// Otsu's threshold over the values above `lo` (the pixels that stand out from the background at all: ink,
// its anti-aliased edge, ruled lines, texture): the level that best separates the strokes from the rest.
float otsu_threshold(const Plane& c, float lo) {
  constexpr int kBins = 256;
  const float hi = *std::max_element(c.v.begin(), c.v.end());
  if (hi <= lo) return lo;
  std::array<double, kBins> hist{};
  const float scale = (kBins - 1) / (hi - lo);
  for (float v : c.v)
    if (v > lo) hist[size_t((v - lo) * scale)] += 1;
  double n = 0, sum = 0;
  for (int i = 0; i < kBins; ++i) n += hist[size_t(i)], sum += i * hist[size_t(i)];
  double n0 = 0, sum0 = 0, best = -1;
  int best_i = 0;
  for (int i = 0; i + 1 < kBins; ++i) {
    n0 += hist[size_t(i)], sum0 += i * hist[size_t(i)];
    if (n0 <= 0 || n0 >= n) continue;
    const double m0 = sum0 / n0, m1 = (sum - sum0) / (n - n0), between = n0 * (n - n0) * (m0 - m1) * (m0 - m1);
    if (between > best) best = between, best_i = i;
  }
  return lo + (float(best_i) + 1.f) / scale;
}

// The slope (tangent) of the ruled lines, within kLineMaxAngle of horizontal: the shear of the mask's rows
// that stacks its pixels into the sharpest profile across (the largest sum of squared row counts), tried
// every kLineAngleStep. Only pixels in thin vertical runs take part (lines, not the body of a stroke).
double line_slope(const std::vector<uint8_t>& mask, int w, int h) {
  std::vector<std::pair<int, int>> pts;
  for (int x = 0; x < w; ++x)
    for (int y = 0; y < h;) {
      int y1 = y;
      while (y1 < h && mask[size_t(y1) * w + x]) ++y1;
      if (y1 > y && y1 - y <= kLineMaxThick)
        for (int k = y; k < y1; ++k) pts.emplace_back(x, k);
      y = y1 + (y1 == y);
    }
  const int steps = int(std::lround(kLineMaxAngle / kLineAngleStep));
  const int pad = int(std::ceil(std::tan(kLineMaxAngle * std::numbers::pi / 180) * w)) + 1;
  std::vector<int> rows(size_t(h + 2 * pad)), shift(static_cast<size_t>(w));
  double best_slope = 0, best = -1;
  for (int i = 0; i <= 2 * steps; ++i) {  // 0, +1, -1, +2, ... steps: a tie keeps the smaller angle
    const int k = (i + 1) / 2 * (i % 2 ? 1 : -1);
    const double slope = std::tan(k * kLineAngleStep * std::numbers::pi / 180);
    std::fill(rows.begin(), rows.end(), 0);
    for (int x = 0; x < w; ++x) shift[size_t(x)] = pad - int(std::lround(x * slope));
    for (const auto& [x, y] : pts) ++rows[size_t(y + shift[size_t(x)])];
    double score = 0;
    for (int n : rows) score += double(n) * n;
    if (score > best) best = score, best_slope = slope;
  }
  return best_slope;
}

// clear_lines_along on the mask sheared so that lines of the given slope (across per along) run straight
// along it: row a moves by -round(a * slope) across, and back afterwards.
int clear_lines_sheared(std::vector<uint8_t>& mask, int n_along, int n, int length, double slope) {
  std::vector<int> s;
  for (int a = 0; a < n_along; ++a) s.push_back(int(std::lround(a * slope)));
  const int lo = *std::min_element(s.begin(), s.end()), hi = *std::max_element(s.begin(), s.end());
  if (lo == hi) return clear_lines_along(mask, n_along, n, length);
  const int m = n + hi - lo;
  std::vector<uint8_t> sheared(size_t(n_along) * m, 0);
  for (int a = 0; a < n_along; ++a)
    std::copy_n(mask.begin() + std::ptrdiff_t(size_t(a) * n), n, sheared.begin() + std::ptrdiff_t(size_t(a) * m + hi - s[size_t(a)]));
  const int cleared = clear_lines_along(sheared, n_along, m, length);
  for (int a = 0; a < n_along; ++a)
    std::copy_n(sheared.begin() + std::ptrdiff_t(size_t(a) * m + hi - s[size_t(a)]), n, mask.begin() + std::ptrdiff_t(size_t(a) * n));
  return cleared;
}

// Lines along y (kLineLengthY of the height) on the mask as it is, lines along x on its transpose, both at
// the sheet's angle (line_slope: a sheet turned by a small angle turns its ruled lines and its margin line).
int clear_lines(std::vector<uint8_t>& mask, int w, int h) {
  const double slope = line_slope(mask, w, h);
  const int nv = clear_lines_sheared(mask, h, w, int(kLineLengthY * float(h)), -slope);
  std::vector<uint8_t> t = transpose(mask, w, h);
  const int nh = clear_lines_sheared(t, w, h, int(kLineLengthX * float(w)), slope);
  if (nh > 0) mask = transpose(t, h, w);
  return nv + nh;
}

// A photograph: contrast against the estimated background; the noise floor (kNoiseSigmas of the background's
// noise) and Otsu's threshold above it; from the pixels above the floor, ruled lines cleared and then
// whatever still touches the frame (the table beside the sheet, a line's remains). Ink is kept where it is
// above the floor and next to (or part of) a stroke above the threshold, as a grey level that reaches 1 at
// the strokes' core (kCoreQuantile), so anti-aliased edges stay grey for the network (ink_levels).
Plane photo_ink(const GrayImage& img, bool* dark_ink) {
  int f = 1;
  const Plane coarse = coarse_copy(img, &f);
  const int r = kernel_radius(coarse);
  const Plane close = background_of(coarse, r, true), open = background_of(coarse, r, false);
  const bool dark = *dark_ink = dark_ink_from(img, coarse, r, close, open);
  int reach = 0;
  // Widened by one coarse pixel towards the ink's side: at the sheet's edge, the paper's blurred rim is
  // compared with the table, never with a coarse pixel that averages the two (it would read as a line).
  const Plane c = contrast_against(img, rank_filter(dark ? close : open, 1, !dark), f, dark, &reach);
  if (reach < kMinContrast) return {};
  const float floor = kNoiseSigmas * noise_sigma(c);
  const float t = std::max(otsu_threshold(c, floor), 2 * floor);
  const float top = std::max(quantile_above(c, t, kCoreQuantile), 1.5f * t);
  // Lines are found among the pixels above a lower floor (a faint, thin line barely reaches `floor`).
  std::vector<uint8_t> above(c.v.size()), lines(c.v.size());
  for (size_t i = 0; i < c.v.size(); ++i) lines[i] = c.v[i] >= floor * (kLineSigmas / kNoiseSigmas);
  std::vector<uint8_t> kept = lines;
  clear_lines(kept, c.w, c.h);
  for (size_t i = 0; i < c.v.size(); ++i) above[i] = c.v[i] >= floor && !(lines[i] && !kept[i]);
  clear_touching_frame(above, c, t);
  return ink_levels(c, above, floor, t, top);
}

}  // namespace digits::steps
