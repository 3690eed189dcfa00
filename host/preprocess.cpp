// MNIST-like preprocessing (DESIGN section 5): grey image -> ink map (a drawing: polarity from the border,
// background subtracted, no hard threshold; a photograph: preprocess_steps.h) -> connected components (8-connected) -> specks dropped, pieces merged by
// horizontal overlap, too-wide pieces split at the column of least ink -> each piece scaled so its longer
// side is 20 px (area average: of the pixels going down, of their bilinear interpolant going up) and placed
// in 28x28 with its centre of mass at (14, 14), to a sub-pixel position.
#include "preprocess.h"
#include "preprocess_steps.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <numeric>
#include <vector>

namespace digits {
namespace {

// clang-format off
constexpr int   kOut           = 28;     // network input side
constexpr float kBox           = 20.f;   // MNIST: the longer side of the digit's box
constexpr float kCentre        = 14.f;   // MNIST: centre of mass at pixel index 14 (both axes)
constexpr float kNoiseFloor    = 0.10f;  // ink below this fraction of the contrast is paper texture / JPEG noise
constexpr float kStrong        = 0.5f;   // an "ink pixel" for counting (min_ink_pixels) and stroke width
constexpr float kSpeckMass     = 0.03f;  // a component with less ink than this fraction of the largest is a speck
constexpr int   kMaxComponents = 256;    // beyond this (a noisy photo) only the largest are considered
constexpr float kMergeOverlap  = 0.5f;   // merge pieces whose x-ranges overlap by this much of the narrower one
constexpr float kFragmentHeight= 0.7f;   // ... or a piece shorter than this times its neighbour,
constexpr float kFragmentGap   = 0.15f;  //     at most this times its height away
constexpr float kFragmentReach = 0.35f;  //     and sticking out above or below by at most this times its height
constexpr float kSplitAspect   = 1.5f;   // a piece wider than this times its height may be touching digits
constexpr float kSplitValley   = 0.3f;   // ... split only where a column holds less than this times the mean ink
constexpr float kSplitPartTall = 0.5f;   // ... and both parts are at least this times the piece's height
// (On MNIST's 60000 training digits: 0.4% are wider than 1.5 x their height, and 1% of those have a valley
// under 0.34 of the mean column ink, so single digits are practically never split.)
constexpr float kMinStroke     = 1.8f;   // thinner strokes (in output pixels) are thickened: MNIST's are ~2 px
constexpr int   kMaxWorkSide   = 1024;   // larger images are box-averaged down first (speed; 20 px is the goal)
constexpr int   kCropSide      = 80;     // digit crops above 2x this are box-averaged down before scaling
constexpr float kTrace         = 1e-4f;  // output below this fraction of the peak is set to 0
constexpr float kPhotoInkShare = 0.125f; // a photo's digit may be small and thin: this share of min_ink_fraction
constexpr float kPhotoSpeck    = 0.2f;   // in a photo, a component less tall and wide than this times the
                                         // largest is dust or grain, whatever its ink
constexpr float kPhotoSolid    = 0.5f;   // ... and so is one whose share of strong ink is under this times the
                                         // largest's (a smudge of texture, faint all over)
constexpr float kPhotoFlat     = 0.2f;   // in a photo, a piece less tall than this times the tallest is no
                                         // digit (the sliver of a table's edge, a line's remains)
constexpr int   kFlatBorder    = 2;      // a border within this many grey levels of its median ...
constexpr double kFlatBorderShare = 0.98; // ... for this share of its pixels is a drawing's: one background grey
// clang-format on

using steps::kMinContrast;
using steps::Plane;
using steps::shrink;

struct Box {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // [x0, x1) x [y0, y1)
  int width() const { return x1 - x0; }
  int height() const { return y1 - y0; }
};

// ---------------------------------------------------------------------------------------------------------
// ink map

// Ink in [0, 1], with the background's noise removed; the float map covers only the inked region (x0, y0 is
// its origin). A drawing (a flat border) is read against one background grey (flat_ink_map); a photograph
// against a background estimated everywhere (photo_ink_map).
struct InkMap {
  bool inverted = false;
  bool photo = false;  // read against an estimated background (not a flat border)
  double mass = 0;  // sum of ink over the image
  int strong = 0;   // pixels with ink >= kStrong
  int x0 = 0, y0 = 0;
  Plane ink;  // the bounding box of all ink > 0; empty when there is none
};

// The ink's bounding box, its mass and its strong pixels, from a full-image ink plane.
InkMap crop_to_ink(const Plane& ink, bool inverted) {
  InkMap m;
  m.inverted = inverted;
  int bx0 = ink.w, bx1 = -1, by0 = ink.h, by1 = -1;
  for (int y = 0; y < ink.h; ++y)
    for (int x = 0; x < ink.w; ++x) {
      const float v = ink.at(x, y);
      if (v <= 0.f) continue;
      m.mass += v;
      m.strong += v >= kStrong;
      bx0 = std::min(bx0, x), bx1 = std::max(bx1, x), by0 = std::min(by0, y), by1 = std::max(by1, y);
    }
  if (bx1 < 0) return m;
  m.x0 = bx0, m.y0 = by0;
  m.ink = Plane{bx1 - bx0 + 1, by1 - by0 + 1, std::vector<float>(size_t(bx1 - bx0 + 1) * (by1 - by0 + 1))};
  for (int y = 0; y < m.ink.h; ++y)
    for (int x = 0; x < m.ink.w; ++x) m.ink.at(x, y) = ink.at(x + bx0, y + by0);
  return m;
}

// The median of the one-pixel border, and whether (almost) all of the border is within kFlatBorder of it: a
// drawing's canvas, a clean scan. Photographs (noise, uneven light) go through photo_ink_map.
int border_median(const GrayImage& img, bool* flat) {
  const int w = img.width, h = img.height;
  std::vector<uint8_t> border;
  border.reserve(size_t(2) * (w + h));
  for (int x = 0; x < w; ++x) {
    border.push_back(img.at(x, 0));
    if (h > 1) border.push_back(img.at(x, h - 1));
  }
  for (int y = 1; y + 1 < h; ++y) {
    border.push_back(img.at(0, y));
    if (w > 1) border.push_back(img.at(w - 1, y));
  }
  std::nth_element(border.begin(), border.begin() + std::ptrdiff_t(border.size() / 2), border.end());
  const int bg = border[border.size() / 2];
  const auto near = std::count_if(border.begin(), border.end(), [&](int v) { return std::abs(v - bg) <= kFlatBorder; });
  *flat = double(near) >= kFlatBorderShare * double(border.size());
  return bg;
}

// A uniform background: ink is the distance from the border's grey towards the ink's extreme, with the
// noise floor removed. The ink is whichever side of the background (darker or lighter) reaches further, so
// dark-on-light and light-on-dark drawings give the same map. One histogram pass decides everything.
InkMap flat_ink_map(const GrayImage& img, int bg) {
  const int w = img.width, h = img.height;
  InkMap m;
  uint64_t hist[256] = {};
  for (uint8_t v : img.pixels) ++hist[v];
  int mn = 0, mx = 255;
  while (hist[mn] == 0) ++mn;
  while (hist[mx] == 0) --mx;
  const bool light_bg = (bg - mn) != (mx - bg) ? (bg - mn) > (mx - bg) : bg > 127;
  m.inverted = light_bg;
  const int contrast = light_bg ? bg - mn : mx - bg;
  if (contrast < kMinContrast) return m;
  // v -> ink, with the noise floor removed and the rest stretched back to [0, 1].
  float lut[256];
  for (int v = 0; v < 256; ++v) {
    const float p = float(light_bg ? bg - v : v - bg) / float(contrast);
    lut[v] = std::clamp((p - kNoiseFloor) / (1.f - kNoiseFloor), 0.f, 1.f);
    m.mass += double(hist[v]) * lut[v];
    if (lut[v] >= kStrong) m.strong += int(hist[v]);
  }
  // The inked region, scanning bytes only.
  int bx0 = w, bx1 = -1, by0 = h, by1 = -1;
  for (int y = 0; y < h; ++y) {
    const uint8_t* row = img.pixels.data() + size_t(y) * w;
    int x = 0;
    while (x < w && lut[row[x]] <= 0.f) ++x;
    if (x == w) continue;
    int r = w - 1;
    while (lut[row[r]] <= 0.f) --r;
    bx0 = std::min(bx0, x), bx1 = std::max(bx1, r);
    by0 = std::min(by0, y), by1 = y;
  }
  if (bx1 < 0) return m;
  m.x0 = bx0, m.y0 = by0;
  m.ink = Plane{bx1 - bx0 + 1, by1 - by0 + 1, {}};
  m.ink.v.resize(size_t(m.ink.w) * m.ink.h);
  for (int y = 0; y < m.ink.h; ++y) {
    const uint8_t* row = img.pixels.data() + size_t(y + by0) * w + bx0;
    float* out = m.ink.v.data() + size_t(y) * m.ink.w;
    for (int x = 0; x < m.ink.w; ++x) out[x] = lut[row[x]];
  }
  return m;
}

InkMap ink_map(const GrayImage& img) {
  bool flat = false;
  const int bg = border_median(img, &flat);
  if (flat) return flat_ink_map(img, bg);
  bool dark = false;
  const Plane ink = steps::photo_ink(img, &dark);
  InkMap m = crop_to_ink(ink, dark);
  m.photo = true;
  return m;
}

// ---------------------------------------------------------------------------------------------------------
// components

struct Component {
  Box box;
  double mass = 0;  // sum of ink
  int strong = 0;   // pixels with ink >= kStrong
};

// 8-connected labelling of ink > 0. labels: -1 for background, else the component index.
std::vector<Component> label_components(const Plane& ink, std::vector<int32_t>& labels) {
  const int w = ink.w, h = ink.h;
  labels.assign(size_t(w) * h, -1);
  std::vector<Component> comps;
  std::vector<int32_t> stack;
  for (int y0 = 0; y0 < h; ++y0) {
    for (int x0 = 0; x0 < w; ++x0) {
      const size_t seed = size_t(y0) * w + x0;
      if (ink.v[seed] <= 0.f || labels[seed] >= 0) continue;
      const int id = int(comps.size());
      Component c;
      c.box = {x0, y0, x0 + 1, y0 + 1};
      labels[seed] = id;
      stack.assign(1, int32_t(seed));
      while (!stack.empty()) {
        const int32_t p = stack.back();
        stack.pop_back();
        const int x = p % w, y = p / w;
        const float v = ink.v[size_t(p)];
        c.mass += v;
        c.strong += v >= kStrong;
        c.box.x0 = std::min(c.box.x0, x), c.box.x1 = std::max(c.box.x1, x + 1);
        c.box.y0 = std::min(c.box.y0, y), c.box.y1 = std::max(c.box.y1, y + 1);
        for (int dy = -1; dy <= 1; ++dy) {
          const int ny = y + dy;
          if (ny < 0 || ny >= h) continue;
          for (int dx = -1; dx <= 1; ++dx) {
            const int nx = x + dx;
            if (nx < 0 || nx >= w) continue;
            const size_t q = size_t(ny) * w + nx;
            if (ink.v[q] > 0.f && labels[q] < 0) {
              labels[q] = id;
              stack.push_back(int32_t(q));
            }
          }
        }
      }
      comps.push_back(c);
    }
  }
  return comps;
}

// A piece is one digit candidate: some components, restricted to columns [cx0, cx1) after a split.
struct Piece {
  std::vector<int> comps;
  int cx0 = 0, cx1 = 0;
  Box box;  // of its own pixels
};

// member[label] says whether a label belongs to the piece; pixels outside [cx0, cx1) never do.
struct Membership {
  std::vector<char> member;
  const std::vector<int32_t>* labels;
  int w, cx0, cx1;
  bool operator()(int x, int y) const {
    if (x < cx0 || x >= cx1) return false;
    const int32_t l = (*labels)[size_t(y) * w + x];
    return l >= 0 && member[size_t(l)];
  }
};

Membership membership(const Piece& p, const std::vector<int32_t>& labels, int n_comps, int w) {
  Membership m{std::vector<char>(size_t(n_comps), 0), &labels, w, p.cx0, p.cx1};
  for (int c : p.comps) m.member[size_t(c)] = 1;
  return m;
}

// The bounding box of a piece's own pixels, searched inside the union of its components' boxes.
Box piece_box(const Piece& p, const std::vector<Component>& comps, const std::vector<int32_t>& labels, int w) {
  Box u{1 << 30, 1 << 30, -1, -1};
  for (int c : p.comps) {
    u.x0 = std::min(u.x0, comps[c].box.x0), u.x1 = std::max(u.x1, comps[c].box.x1);
    u.y0 = std::min(u.y0, comps[c].box.y0), u.y1 = std::max(u.y1, comps[c].box.y1);
  }
  u.x0 = std::max(u.x0, p.cx0), u.x1 = std::min(u.x1, p.cx1);
  const Membership in = membership(p, labels, int(comps.size()), w);
  Box b{1 << 30, 1 << 30, -1, -1};
  for (int y = u.y0; y < u.y1; ++y)
    for (int x = u.x0; x < u.x1; ++x)
      if (in(x, y)) {
        b.x0 = std::min(b.x0, x), b.x1 = std::max(b.x1, x + 1);
        b.y0 = std::min(b.y0, y), b.y1 = std::max(b.y1, y + 1);
      }
  if (b.x1 < 0) b = {0, 0, 0, 0};
  return b;
}

// A short piece close beside a taller one, about within its height: the open part of a 4 drawn in two
// strokes, a 5's flag lifted off to the upper right. (A separate digit is about as tall as its neighbours.)
bool is_fragment_of(const Box& s, const Box& big) {
  const int h = big.height();
  if (s.height() >= kFragmentHeight * h) return false;
  const int gap = std::max(s.x0, big.x0) - std::min(s.x1, big.x1);  // negative when the x-ranges overlap
  return gap <= kFragmentGap * h && s.y0 >= big.y0 - kFragmentReach * h && s.y1 <= big.y1 + kFragmentReach * h;
}

// Merges pieces whose x-ranges overlap by more than kMergeOverlap of the narrower one (the strokes of a 4,
// a 5's flag, a 7's separate crossbar) or where one is a fragment beside the other, until nothing changes.
void merge_overlapping(std::vector<Piece>& pieces) {
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < pieces.size() && !changed; ++i) {
      for (size_t j = i + 1; j < pieces.size() && !changed; ++j) {
        Box& a = pieces[i].box;
        const Box& b = pieces[j].box;
        const int overlap = std::min(a.x1, b.x1) - std::max(a.x0, b.x0);
        if (overlap <= kMergeOverlap * std::min(a.width(), b.width()) && !is_fragment_of(a, b) && !is_fragment_of(b, a))
          continue;
        pieces[i].comps.insert(pieces[i].comps.end(), pieces[j].comps.begin(), pieces[j].comps.end());
        a = {std::min(a.x0, b.x0), std::min(a.y0, b.y0), std::max(a.x1, b.x1), std::max(a.y1, b.y1)};
        pieces[i].cx0 = std::min(pieces[i].cx0, pieces[j].cx0);
        pieces[i].cx1 = std::max(pieces[i].cx1, pieces[j].cx1);
        pieces.erase(pieces.begin() + std::ptrdiff_t(j));
        changed = true;
      }
    }
  }
}

// Splits a piece much wider than tall (touching digits) at the column of least ink in its middle part, when
// that column is a clear valley; recurses on the halves.
void split_wide(const Piece& p, const Plane& ink, const std::vector<Component>& comps,
                const std::vector<int32_t>& labels, int depth, std::vector<Piece>& out) {
  const Box& b = p.box;
  if (depth >= 4 || b.width() <= kSplitAspect * b.height() || b.width() < 8) {
    out.push_back(p);
    return;
  }
  const Membership in = membership(p, labels, int(comps.size()), ink.w);
  std::vector<double> col(size_t(b.width()), 0.0);
  for (int y = b.y0; y < b.y1; ++y)
    for (int x = b.x0; x < b.x1; ++x)
      if (in(x, y)) col[size_t(x - b.x0)] += ink.at(x, y);
  const double mean = std::accumulate(col.begin(), col.end(), 0.0) / double(col.size());
  // Search the middle 40%, with a mild pull towards the centre so that flat profiles cut in the middle.
  const int lo = int(0.3 * b.width()), hi = int(0.7 * b.width());
  const double mid = 0.5 * b.width();
  int best = -1;
  double best_cost = 0;
  for (int i = lo; i <= hi && i < b.width(); ++i) {
    const double d = (i - mid) / (0.2 * b.width());
    const double cost = col[size_t(i)] * (1.0 + 0.25 * d * d);
    if (best < 0 || cost < best_cost) best = i, best_cost = cost;
  }
  if (best < 0 || col[size_t(best)] > kSplitValley * mean) {
    out.push_back(p);
    return;
  }
  Piece left = p, right = p;
  left.cx1 = b.x0 + best;
  right.cx0 = b.x0 + best + 1;  // the valley column itself belongs to neither
  left.box = piece_box(left, comps, labels, ink.w);
  right.box = piece_box(right, comps, labels, ink.w);
  // A wide 5 or 7 would split into its body and a short flag: both parts must be digit-tall.
  if (std::min(left.box.height(), right.box.height()) < kSplitPartTall * b.height()) {
    out.push_back(p);
    return;
  }
  split_wide(left, ink, comps, labels, depth + 1, out);
  split_wide(right, ink, comps, labels, depth + 1, out);
}

// ---------------------------------------------------------------------------------------------------------
// one piece -> 28x28

// Stroke width in source pixels: ink mass over half the perimeter, the perimeter estimated from edge crossings
// of the thresholded mask (Cauchy-Crofton: perimeter ~ pi/4 * crossings).
double stroke_width(const Plane& crop) {
  double mass = 0, crossings = 0;
  for (int y = 0; y < crop.h; ++y) {
    for (int x = 0; x < crop.w; ++x) {
      const float v = crop.at(x, y);
      mass += v;
      const bool on = v >= kStrong;
      const bool right = x + 1 < crop.w && crop.at(x + 1, y) >= kStrong;
      const bool below = y + 1 < crop.h && crop.at(x, y + 1) >= kStrong;
      crossings += (on != right) + (on != below) + (x == 0 && on) + (y == 0 && on);
    }
  }
  return crossings > 0 ? 2.0 * mass / (crossings * std::numbers::pi / 4.0) : 1.0;
}

// Integer box-average: each output pixel is the sum of a g x g block over g^2.
Plane box_shrink(const Plane& src, int g) {
  Plane out{(src.w + g - 1) / g, (src.h + g - 1) / g, {}};
  out.v.assign(size_t(out.w) * out.h, 0.f);
  const float k = 1.f / float(g * g);
  for (int y = 0; y < src.h; ++y) {
    float* row = out.v.data() + size_t(y / g) * out.w;
    for (int x = 0; x < src.w; ++x) row[x / g] += src.at(x, y) * k;
  }
  return out;
}

// Grey dilation by a (2r+1)^2 square (separable max filter); the result is larger by r on each side.
Plane dilate(const Plane& src, int r) {
  Plane tmp{src.w + 2 * r, src.h, std::vector<float>(size_t(src.w + 2 * r) * src.h, 0.f)};
  for (int y = 0; y < src.h; ++y)
    for (int x = 0; x < tmp.w; ++x) {
      float m = 0;
      for (int k = std::max(0, x - 2 * r); k <= std::min(src.w - 1, x); ++k) m = std::max(m, src.at(k, y));
      tmp.at(x, y) = m;
    }
  Plane out{tmp.w, src.h + 2 * r, std::vector<float>(size_t(tmp.w) * (src.h + 2 * r), 0.f)};
  for (int y = 0; y < out.h; ++y)
    for (int x = 0; x < out.w; ++x) {
      float m = 0;
      for (int k = std::max(0, y - 2 * r); k <= std::min(src.h - 1, y); ++k) m = std::max(m, tmp.at(x, k));
      out.at(x, y) = m;
    }
  return out;
}

struct Tap {
  int src;
  float w;
};

// Integral of the unit tent max(0, 1 - |x|) from -infinity to t.
double tent_integral(double t) {
  if (t <= -1) return 0;
  if (t <= 0) return 0.5 * (t + 1) * (t + 1);
  if (t <= 1) return 1 - 0.5 * (1 - t) * (1 - t);
  return 1;
}

// For each of the kOut output pixels along one axis, the source pixels and weights that make it. The source
// axis [0, n) maps to the output axis by u_out = u_src * s + offset (continuous coordinates, pixel i covers
// [i, i+1)), and each output pixel is the mean of the source over its footprint, so mass is kept and a
// sub-pixel shift moves the result smoothly. s < 1 (down): the source is piecewise constant (a box filter,
// exact area coverage). s >= 1 (up): the source is the bilinear interpolant of the pixel centres, held
// constant over the outer half pixels and zero outside [0, n), so the ink stays within its scaled box.
std::vector<std::vector<Tap>> axis_taps(int n, double s, double offset) {
  std::vector<std::vector<Tap>> taps(kOut);
  for (int i = 0; i < kOut; ++i) {
    const double a = std::max(0.0, (i - offset) / s), b = std::min(double(n), (i + 1 - offset) / s);
    if (b <= a) continue;
    if (s < 1.0) {
      for (int k = int(std::floor(a)); k < std::min(n, int(std::ceil(b))); ++k) {
        const double cover = std::min<double>(b, k + 1) - std::max<double>(a, k);
        if (cover > 0) taps[size_t(i)].push_back({k, float(cover * s)});
      }
    } else {
      // Source pixel k's basis is the tent centred at k + 0.5; the end pixels also own the mirrored tent
      // beyond the edge (that is the constant half pixel).
      const auto tent = [&](double c) { return tent_integral(b - c) - tent_integral(a - c); };
      for (int k = std::max(0, int(std::floor(a - 0.5))); k <= std::min(n - 1, int(std::ceil(b + 0.5))); ++k) {
        double w = tent(k + 0.5);
        if (k == 0) w += tent(-0.5);
        if (k == n - 1) w += tent(n + 0.5);
        if (w > 0) taps[size_t(i)].push_back({k, float(w * s)});
      }
    }
  }
  return taps;
}

void render(const Plane& crop, double s, double ox, double oy, std::array<float, kOut * kOut>& out) {
  const auto tx = axis_taps(crop.w, s, ox), ty = axis_taps(crop.h, s, oy);
  // Horizontal pass: (crop.h, kOut); then vertical: (kOut, kOut).
  std::vector<float> tmp(size_t(crop.h) * kOut, 0.f);
  for (int y = 0; y < crop.h; ++y)
    for (int i = 0; i < kOut; ++i) {
      float acc = 0;
      for (const Tap& t : tx[size_t(i)]) acc += t.w * crop.at(t.src, y);
      tmp[size_t(y) * kOut + i] = acc;
    }
  for (int j = 0; j < kOut; ++j)
    for (int i = 0; i < kOut; ++i) {
      float acc = 0;
      for (const Tap& t : ty[size_t(j)]) acc += t.w * tmp[size_t(t.src) * kOut + i];
      out[size_t(j) * kOut + i] = acc;
    }
}

// Centre of mass in pixel-index coordinates; false when there is no mass.
bool centre_of_mass(const std::array<float, kOut * kOut>& p, double* cx, double* cy) {
  double m = 0, sx = 0, sy = 0;
  for (int y = 0; y < kOut; ++y)
    for (int x = 0; x < kOut; ++x) {
      const double v = p[size_t(y) * kOut + x];
      m += v, sx += v * x, sy += v * y;
    }
  if (m <= 0) return false;
  *cx = sx / m, *cy = sy / m;
  return true;
}

DigitInput make_input(const Plane& ink, const Piece& piece, const std::vector<Component>& comps,
                      const std::vector<int32_t>& labels) {
  const Box& b = piece.box;
  const Membership in = membership(piece, labels, int(comps.size()), ink.w);
  Plane crop{b.width(), b.height(), std::vector<float>(size_t(b.width()) * b.height(), 0.f)};
  for (int y = b.y0; y < b.y1; ++y)
    for (int x = b.x0; x < b.x1; ++x)
      if (in(x, y)) crop.at(x - b.x0, y - b.y0) = ink.at(x, y);

  const double width = stroke_width(crop);  // in source pixels, measured at full resolution
  // Large crops are box-averaged by an integer factor g first: still an exact area average, and the rest
  // works on at most 2 kCropSide pixels a side. (The last block may be partial: it averages in the zeros.)
  const int side = std::max(crop.w, crop.h);
  const int g = std::max(1, side / kCropSide);
  if (g > 1) crop = box_shrink(crop, g);
  double extent = double(side) / g;  // the longer side in crop pixels
  double s = kBox / extent;          // crop pixels -> output pixels
  // Thin strokes (a fine pen on a large canvas) would vanish at 20 px: thicken them to about MNIST's width.
  if (width / g * s < kMinStroke) {
    const int r = std::min(int(std::ceil((kMinStroke / s - width / g) / 2.0)), std::max(1, int(extent) / 10));
    if (r > 0) {
      crop = dilate(crop, r);
      extent += 2 * r;
      s = kBox / extent;
    }
  }

  // Source centre of mass (continuous coordinates) mapped to the output centre, i.e. index kCentre.
  double m = 0, sx = 0, sy = 0;
  for (int y = 0; y < crop.h; ++y)
    for (int x = 0; x < crop.w; ++x) {
      const double v = crop.at(x, y);
      m += v, sx += v * (x + 0.5), sy += v * (y + 0.5);
    }
  double ox = kCentre + 0.5 - sx / m * s, oy = kCentre + 0.5 - sy / m * s;
  // Keep the whole scaled box inside the 28x28 field (MNIST's margin is 4 px; lopsided shapes could leave it).
  const auto clamp_offset = [&](double o, int n) { return std::clamp(o, 0.0, kOut - n * s); };
  DigitInput d;
  for (int iter = 0; iter < 3; ++iter) {
    ox = clamp_offset(ox, crop.w), oy = clamp_offset(oy, crop.h);
    render(crop, s, ox, oy, d.pixels);
    // Resampling moves the centre of mass by a fraction of a pixel; correct and render again.
    double cx, cy;
    if (!centre_of_mass(d.pixels, &cx, &cy)) break;
    if (std::fabs(cx - kCentre) < 0.02 && std::fabs(cy - kCentre) < 0.02) break;
    ox += kCentre - cx, oy += kCentre - cy;
  }
  // MNIST strokes saturate at full white: stretch the strongest pixel to 1. Traces far below one grey level
  // (resampling leaves some) become exact zeros, as in MNIST, and never reach a CPU as subnormal floats.
  const float peak = *std::max_element(d.pixels.begin(), d.pixels.end());
  if (peak > 0)
    for (float& v : d.pixels) v = v < kTrace * peak ? 0.f : std::min(v / peak, 1.f);
  d.x0 = b.x0, d.y0 = b.y0, d.x1 = b.x1, d.y1 = b.y1;
  return d;
}

// The components worth reading, largest ink first: at most kMaxComponents, without specks (dust, JPEG noise,
// a stray click: less ink than kSpeckMass of the largest, relative so that scale does not matter; in a photo
// also smaller than kPhotoSpeck of its size, or fainter all over than kPhotoSolid allows) and without
// components that never reach kStrong.
std::vector<int> kept_components(const std::vector<Component>& comps, bool photo) {
  std::vector<int> kept(comps.size());
  std::iota(kept.begin(), kept.end(), 0);
  std::sort(kept.begin(), kept.end(), [&](int a, int b) { return comps[a].mass > comps[b].mass; });
  if (kept.size() > size_t(kMaxComponents)) kept.resize(kMaxComponents);
  if (kept.empty()) return kept;
  const double largest = comps[kept[0]].mass;
  const auto extent = [&](int c) { return std::max(comps[c].box.width(), comps[c].box.height()); };
  const int largest_extent = extent(kept[0]);
  // how much of a component's ink is solid (strokes: nearly all of it; a smudge of texture: little)
  const auto solid = [&](int c) { return double(comps[c].strong) / std::max(comps[c].mass, 1e-9); };
  const double largest_solid = solid(kept[0]);
  std::erase_if(kept, [&](int c) {
    return comps[c].mass < kSpeckMass * largest || comps[c].strong == 0 ||
           (photo && (extent(c) < kPhotoSpeck * largest_extent || solid(c) < kPhotoSolid * largest_solid));
  });
  return kept;
}

// In a photo, the pieces less tall than kPhotoFlat of the tallest (digits in a row are about equally tall).
void drop_flat(std::vector<Piece>& pieces) {
  int tallest = 0;
  for (const Piece& p : pieces) tallest = std::max(tallest, p.box.height());
  std::erase_if(pieces, [&](const Piece& p) { return p.box.height() < kPhotoFlat * tallest; });
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// public API

Preprocessed preprocess(const GrayImage& img_in, const PreprocessOptions& opt) {
  Preprocessed res;
  if (img_in.width <= 0 || img_in.height <= 0 || img_in.pixels.size() != size_t(img_in.width) * img_in.height)
    return res;
  // Work on a copy no larger than kMaxWorkSide; boxes are scaled back at the end.
  const int f = (std::max(img_in.width, img_in.height) + kMaxWorkSide - 1) / kMaxWorkSide;
  GrayImage small;
  if (f > 1) small = shrink(img_in, f);
  const GrayImage& img = f > 1 ? small : img_in;

  const InkMap map = ink_map(img);
  res.inverted = map.inverted;
  // Thresholds are relative to the caller's image: counts and areas shrink by f^2 on the work copy.
  const double area = double(img_in.width) * img_in.height;
  const double min_fraction = map.photo ? kPhotoInkShare * opt.min_ink_fraction : opt.min_ink_fraction;
  if (map.mass * f * f < min_fraction * area || double(map.strong) * f * f < opt.min_ink_pixels ||
      map.ink.v.empty())
    return res;
  const Plane& ink = map.ink;  // from here on, coordinates are relative to (map.x0, map.y0)

  std::vector<int32_t> labels;
  const std::vector<Component> comps = label_components(ink, labels);
  const std::vector<int> kept = kept_components(comps, map.photo);
  if (kept.empty()) return res;

  std::vector<Piece> pieces;
  if (opt.multi_digit) {
    for (int c : kept) pieces.push_back({{c}, 0, ink.w, comps[c].box});
    merge_overlapping(pieces);
    std::vector<Piece> split;
    for (const Piece& p : pieces) split_wide(p, ink, comps, labels, 0, split);
    pieces = std::move(split);
  } else {
    Piece all{kept, 0, ink.w, {}};
    all.box = piece_box(all, comps, labels, ink.w);
    pieces.push_back(all);
  }
  if (map.photo) drop_flat(pieces);
  std::sort(pieces.begin(), pieces.end(),
            [](const Piece& a, const Piece& b) { return a.box.x0 + a.box.x1 < b.box.x0 + b.box.x1; });

  for (const Piece& p : pieces) {
    if (p.box.width() <= 0 || p.box.height() <= 0) continue;
    DigitInput d = make_input(ink, p, comps, labels);
    d.x0 = std::min((d.x0 + map.x0) * f, img_in.width), d.x1 = std::min((d.x1 + map.x0) * f, img_in.width);
    d.y0 = std::min((d.y0 + map.y0) * f, img_in.height), d.y1 = std::min((d.y1 + map.y0) * f, img_in.height);
    res.digits.push_back(d);
  }
  res.empty = res.digits.empty();
  return res;
}

}  // namespace digits
