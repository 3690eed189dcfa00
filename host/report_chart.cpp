// The roofline chart of report_chart.h.
#include "report_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "raster.h"

namespace digits {
namespace {

constexpr Rgb kWhite{255, 255, 255}, kInk{30, 30, 30}, kGrid{225, 225, 225}, kRoof{90, 90, 90};
constexpr Rgb kPalette[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                            {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
constexpr int kText = 2, kTitle = 3;  // font scales

// The plot rectangle in pixels and the decades it shows on each axis (log10).
struct Axes {
  int left = 120, top = 80, right = kChartWidth - 400, bottom = kChartHeight - 90;
  int lx0 = -2, lx1 = 2, ly0 = -2, ly1 = 3;
  int px(double x) const { return left + int(std::lround((std::log10(x) - lx0) / (lx1 - lx0) * (right - left))); }
  int py(double y) const { return bottom - int(std::lround((std::log10(y) - ly0) / (ly1 - ly0) * (bottom - top))); }
  bool inside(double x, double y) const { return x > 0 && y > 0 && px(x) >= left && px(x) <= right && py(y) >= top && py(y) <= bottom; }
};

// Decades that hold every point and every roof's ridge and peak.
Axes axes_for(const KernelReport& r) {
  double xmin = 1, xmax = 10, ymin = 1, ymax = 10;
  for (const BackendPeaks& b : r.backends) {
    const MachinePeak p = b.peak();
    xmin = std::min(xmin, ridge_intensity(p) / 10), xmax = std::max(xmax, ridge_intensity(p) * 10);
    ymax = std::max(ymax, p.gflops * 1.5);
  }
  for (const KernelRow& k : r.kernels) {
    if (!std::isfinite(k.point.intensity) || k.point.intensity <= 0 || k.point.gflops <= 0) continue;
    xmin = std::min(xmin, k.point.intensity), xmax = std::max(xmax, k.point.intensity);
    ymin = std::min(ymin, k.point.gflops), ymax = std::max(ymax, k.point.gflops);
  }
  Axes a;
  a.lx0 = std::max(-4, int(std::floor(std::log10(xmin)))), a.lx1 = std::min(5, int(std::ceil(std::log10(xmax))));
  a.ly0 = std::max(-4, int(std::floor(std::log10(ymin)))), a.ly1 = std::min(7, int(std::ceil(std::log10(ymax))));
  if (a.lx1 <= a.lx0) a.lx1 = a.lx0 + 1;
  if (a.ly1 <= a.ly0) a.ly1 = a.ly0 + 1;
  return a;
}

std::string decade_label(int e) {
  if (e >= 0 && e <= 5) return std::to_string(int(std::lround(std::pow(10, e))));
  if (e < 0 && e >= -3) return "0." + std::string(size_t(-e - 1), '0') + "1";
  return "1e" + std::to_string(e);
}

void draw_frame(RgbImage& img, const Axes& a, const std::string& machine) {
  const int h = kGlyphH * kText;
  for (int e = a.lx0; e <= a.lx1; ++e) {
    const int x = a.px(std::pow(10, e));
    draw_line(img, x, a.top, x, a.bottom, kGrid);
    const std::string t = decade_label(e);
    draw_text(img, x - text_width(t, kText) / 2, a.bottom + 8, t, kInk, kText);
  }
  for (int e = a.ly0; e <= a.ly1; ++e) {
    const int y = a.py(std::pow(10, e));
    draw_line(img, a.left, y, a.right, y, kGrid);
    const std::string t = decade_label(e);
    draw_text(img, a.left - 8 - text_width(t, kText), y - h / 2, t, kInk, kText);
  }
  draw_line(img, a.left, a.bottom, a.right, a.bottom, kInk, 2);
  draw_line(img, a.left, a.top, a.left, a.bottom, kInk, 2);
  const std::string xl = "arithmetic intensity (FLOP per byte moved)", yl = "achieved GFLOP/s";
  draw_text(img, (a.left + a.right - text_width(xl, kText)) / 2, a.bottom + 40, xl, kInk, kText);
  draw_text_up(img, 30, (a.top + a.bottom + text_width(yl, kText)) / 2, yl, kInk, kText);
  std::string title = "Kernel roofline: " + machine;
  while (title.size() > 4 && text_width(title, kTitle) > kChartWidth - 40) title.resize(title.size() - 4), title += "...";
  draw_text(img, 20, 20, title, kInk, kTitle);
  draw_text(img, 20, 50, "Each point: one op at a preset's shape on one backend/variant. Lines: peaks measured on this machine.",
            kInk, kText);
}

// Each backend's roof, min(peak, I x bandwidth), dashed on the bandwidth slope, with its numbers.
void draw_roofs(RgbImage& img, const Axes& a, const KernelReport& r) {
  int label_y = a.top + 4;
  for (const BackendPeaks& b : r.backends) {
    const MachinePeak p = b.peak();
    const double x0 = std::max(std::pow(10, a.lx0), std::pow(10, a.ly0) / p.gbs), ridge = ridge_intensity(p);
    const double x1 = std::pow(10, a.lx1);
    if (ridge > x0) draw_line(img, a.px(x0), a.py(attainable_gflops(x0, p)), a.px(ridge), a.py(p.gflops), kRoof, 2, 8);
    draw_line(img, a.px(std::max(ridge, x0)), a.py(p.gflops), a.px(x1), a.py(p.gflops), kRoof, 2);
    char text[160];
    std::snprintf(text, sizeof text, "%s roof: %.1f GFLOP/s, %.1f GB/s, ridge %.2f FLOP/B", b.backend.c_str(), p.gflops,
                  p.gbs, ridge);
    const int y = std::max(label_y, a.py(p.gflops) - kGlyphH * kText - 10);
    draw_text(img, a.right - text_width(text, kText) - 4, y, text, kRoof, kText);
    label_y = y + kGlyphH * kText + 6;
  }
}

enum class Mark { Square, Diamond, Dot };
Mark mark_of(const std::string& op) {
  return op.rfind("conv2d_", 0) == 0 ? Mark::Square : op.rfind("dense_", 0) == 0 ? Mark::Diamond : Mark::Dot;
}

void draw_mark(RgbImage& img, int x, int y, Mark m, Rgb c) {
  const int r = m == Mark::Dot ? 3 : 5;
  for (int dy = -r; dy <= r; ++dy)
    for (int dx = -r; dx <= r; ++dx) {
      const bool on = m == Mark::Square ? true : m == Mark::Diamond ? std::abs(dx) + std::abs(dy) <= r : dx * dx + dy * dy <= r * r;
      if (on) img.set(x + dx, y + dy, c);
    }
}

// backend/variant of every row, in order of first appearance.
std::vector<std::string> series_of(const KernelReport& r) {
  std::vector<std::string> s;
  for (const KernelRow& k : r.kernels)
    if (std::find(s.begin(), s.end(), k.backend + "/" + k.variant) == s.end()) s.push_back(k.backend + "/" + k.variant);
  return s;
}

Rgb colour_of(const std::vector<std::string>& series, const std::string& name) {
  const size_t i = size_t(std::find(series.begin(), series.end(), name) - series.begin());
  return kPalette[i % std::size(kPalette)];
}

void draw_legend(RgbImage& img, const Axes& a, const std::vector<std::string>& series) {
  const int x = a.right + 30, step = kGlyphH * kText + 10;
  int y = a.top;
  draw_text(img, x, y, "backend/variant", kInk, kText);
  for (const std::string& s : series) {
    y += step;
    if (y > a.bottom - 4 * step) break;  // room for the shapes' key
    fill_rect(img, x, y, 14, 10, colour_of(series, s));
    draw_text(img, x + 22, y, s.substr(0, 30), kInk, kText);
  }
  y = a.bottom - 3 * step;
  const std::pair<Mark, const char*> keys[] = {{Mark::Square, "convolution"}, {Mark::Diamond, "dense"}, {Mark::Dot, "other ops"}};
  for (const auto& [m, text] : keys) {
    draw_mark(img, x + 7, y + 5, m, kInk);
    draw_text(img, x + 22, y, text, kInk, kText);
    y += step;
  }
}

}  // namespace

RgbImage roofline_chart(const KernelReport& r) {
  RgbImage img(kChartWidth, kChartHeight, kWhite);
  const Axes a = axes_for(r);
  draw_frame(img, a, r.machine);
  draw_roofs(img, a, r);
  const std::vector<std::string> series = series_of(r);
  for (const KernelRow& k : r.kernels)
    if (a.inside(k.point.intensity, k.point.gflops))
      draw_mark(img, a.px(k.point.intensity), a.py(k.point.gflops), mark_of(k.op), colour_of(series, k.backend + "/" + k.variant));
  draw_legend(img, a, series);
  return img;
}

}  // namespace digits
