// Drawing: stroke bookkeeping and the paper-to-canvas fit.
#include "drawing.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace digits::gui {

namespace {
RectD united(const RectD& a, const RectD& b) {
  const double x0 = std::min(a.x, b.x), y0 = std::min(a.y, b.y);
  return {x0, y0, std::max(a.right(), b.right()) - x0, std::max(a.bottom(), b.bottom()) - y0};
}
}  // namespace

View Drawing::fit(double width, double height) const {
  width = std::max(1.0, width);
  height = std::max(1.0, height);
  if (blank()) return {height, 0, 0};
  const double k = std::min(width / paper_.w, height / paper_.h);
  return {k, (width - k * paper_.w) / 2 - k * paper_.x, (height - k * paper_.h) / 2 - k * paper_.y};
}

RectD Drawing::paper(double width, double height) const {
  if (!blank()) return paper_;
  const View v = fit(width, height);
  return {0, 0, std::max(1.0, width) / v.scale, 1};
}

void Drawing::begin(double width, double height, PointD px, double pen_fraction) {
  if (drawing_) end();
  const View v = fit(width, height);
  // The whole canvas in units: it contains the paper (fit), so growing the paper to it keeps the view.
  const PointD a = v.to_units({0, 0}), b = v.to_units({std::max(1.0, width), std::max(1.0, height)});
  const RectD canvas{a.x, a.y, b.x - a.x, b.y - a.y};
  paper_ = blank() ? canvas : united(paper_, canvas);
  drawing_ = true;
  current_ = {};
  current_.width = pen_fraction * std::max(1.0, height) / v.scale;
  current_.pts.push_back(v.to_units(px));
}

bool Drawing::extend(double width, double height, PointD px, double min_step) {
  if (!drawing_) return false;
  const View v = fit(width, height);
  const PointD last = v.to_pixels(current_.pts.back());
  if (std::hypot(px.x - last.x, px.y - last.y) < min_step) return false;
  current_.pts.push_back(v.to_units(px));
  return true;
}

void Drawing::end() {
  if (!drawing_) return;
  drawing_ = false;
  strokes_.push_back(std::move(current_));
  current_ = {};
}

bool Drawing::undo() {
  if (drawing_ || strokes_.empty()) return false;
  strokes_.pop_back();
  return true;
}

void Drawing::clear() {
  strokes_.clear();
  current_ = {};
  drawing_ = false;
  paper_ = {};
}

GrayImage crop_digit(const GrayImage& img, int x0, int y0, int x1, int y1) {
  const int m = std::max(x1 - x0, y1 - y0) / 4;
  GrayImage out;
  out.width = std::max(1, x1 - x0 + 2 * m);
  out.height = std::max(1, y1 - y0 + 2 * m);
  out.pixels.assign(size_t(out.width) * size_t(out.height), img.pixels.empty() ? 255 : img.at(0, 0));
  for (int y = std::max(0, y0); y < std::min(y1, img.height); ++y)
    for (int x = std::max(0, x0); x < std::min(x1, img.width); ++x)
      out.pixels[size_t(y - y0 + m) * size_t(out.width) + size_t(x - x0 + m)] = img.at(x, y);
  return out;
}

}  // namespace digits::gui
