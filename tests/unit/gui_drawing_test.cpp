// gui/drawing: the window's strokes in paper units. A resized canvas shows the whole drawing, scaled (never
// cropped) and resizing back restores it; a stroke begun beside the paper grows it without moving anything;
// the pen is a fraction of the canvas height; a press while a stroke goes on keeps that stroke.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "drawing.h"

namespace digits::gui {
namespace {

// A stroke from corner to corner of a width x height canvas, with a pen 5% of its height.
Drawing corner_to_corner(double width, double height) {
  Drawing d;
  d.begin(width, height, {0, 0}, 0.05);
  EXPECT_TRUE(d.extend(width, height, {width / 2, height / 2}, 0.75));
  EXPECT_TRUE(d.extend(width, height, {width, height}, 0.75));
  d.end();
  return d;
}

void expect_inside(const Drawing& d, double width, double height) {
  const View v = d.fit(width, height);
  for (const Drawing::Stroke& s : d.strokes())
    for (const PointD& u : s.pts) {
      const PointD p = v.to_pixels(u);
      EXPECT_GE(p.x, -1e-9) << width << "x" << height;
      EXPECT_LE(p.x, width + 1e-9) << width << "x" << height;
      EXPECT_GE(p.y, -1e-9) << width << "x" << height;
      EXPECT_LE(p.y, height + 1e-9) << width << "x" << height;
    }
}

TEST(GuiDrawing, BlankDrawingIsTheCanvasOneUnitPerCanvasHeight) {
  const Drawing d;
  const View v = d.fit(400, 300);
  EXPECT_DOUBLE_EQ(v.scale, 300);
  EXPECT_DOUBLE_EQ(v.ox, 0);
  EXPECT_DOUBLE_EQ(v.oy, 0);
  const RectD paper = d.paper(400, 300);
  EXPECT_DOUBLE_EQ(paper.w, 400.0 / 300);
  EXPECT_DOUBLE_EQ(paper.h, 1);
}

TEST(GuiDrawing, ResizedCanvasShowsTheWholeDrawingScaledAndCentred) {
  const Drawing d = corner_to_corner(400, 300);
  const std::vector<std::pair<double, double>> sizes = {{200, 300}, {400, 100}, {1000, 900}, {37, 611}};
  for (const auto& [w, h] : sizes) expect_inside(d, w, h);
  // Narrower: the width limits the scale, the drawing is centred vertically.
  const View v = d.fit(200, 300);
  EXPECT_DOUBLE_EQ(v.scale, 150);
  const PointD last = v.to_pixels(d.strokes()[0].pts.back());
  EXPECT_NEAR(last.x, 200, 1e-9);
  EXPECT_NEAR(last.y, 150 + 75, 1e-9);
  // The pen scales with the drawing: 5% of 300 px drawn at half size.
  EXPECT_NEAR(d.strokes()[0].width * v.scale, 7.5, 1e-9);
}

TEST(GuiDrawing, ResizingBackRestoresEveryPixel) {
  const Drawing d = corner_to_corner(400, 300);
  const View before = d.fit(400, 300);
  (void)d.fit(150, 700);
  const View after = d.fit(400, 300);
  EXPECT_DOUBLE_EQ(before.scale, after.scale);
  EXPECT_DOUBLE_EQ(before.ox, after.ox);
  EXPECT_DOUBLE_EQ(before.oy, after.oy);
  const PointD p = after.to_pixels(d.strokes()[0].pts[1]);
  EXPECT_NEAR(p.x, 200, 1e-9);
  EXPECT_NEAR(p.y, 150, 1e-9);
}

TEST(GuiDrawing, StrokeBesideThePaperGrowsItWithoutMovingTheDrawing) {
  Drawing d = corner_to_corner(400, 300);
  const View wide = d.fit(800, 300);  // the 400x300 paper centred, 200 px margins left and right
  EXPECT_DOUBLE_EQ(wide.ox, 200);
  d.begin(800, 300, {790, 10}, 0.05);  // in the right margin
  d.end();
  const View grown = d.fit(800, 300);
  EXPECT_DOUBLE_EQ(grown.scale, wide.scale);
  EXPECT_NEAR(grown.ox, wide.ox, 1e-9);
  EXPECT_NEAR(grown.oy, wide.oy, 1e-9);
  const PointD p = grown.to_pixels(d.strokes()[1].pts[0]);
  EXPECT_NEAR(p.x, 790, 1e-9);
  EXPECT_NEAR(p.y, 10, 1e-9);
  EXPECT_NEAR(d.paper(800, 300).w * grown.scale, 800, 1e-9);
  expect_inside(d, 300, 300);  // and a later narrower window still shows both strokes
}

TEST(GuiDrawing, PenIsAFractionOfTheCanvasHeight) {
  for (double h : {150.0, 420.0, 1300.0}) {
    Drawing d;
    d.begin(h * 1.4, h, {10, 10}, 0.05);
    EXPECT_NEAR(d.current().width * d.fit(h * 1.4, h).scale, 0.05 * h, 1e-9) << h;
  }
}

TEST(GuiDrawing, ExtendSkipsSamplesCloserThanTheMinimumStep) {
  Drawing d;
  EXPECT_FALSE(d.extend(400, 300, {50, 50}, 0.75));  // no stroke going on
  d.begin(400, 300, {10, 10}, 0.05);
  EXPECT_FALSE(d.extend(400, 300, {10.5, 10.2}, 0.75));
  EXPECT_TRUE(d.extend(400, 300, {11, 10}, 0.75));
  EXPECT_EQ(d.current().pts.size(), 2u);
}

TEST(GuiDrawing, PressWhileAStrokeGoesOnKeepsThatStroke) {
  Drawing d;
  d.begin(400, 300, {10, 10}, 0.05);
  d.extend(400, 300, {60, 10}, 0.75);
  d.begin(400, 300, {10, 12}, 0.05);  // its release was never seen
  EXPECT_EQ(d.strokes().size(), 1u);
  EXPECT_TRUE(d.drawing());
  d.end();
  EXPECT_EQ(d.strokes().size(), 2u);
  EXPECT_TRUE(d.undo());
  EXPECT_EQ(d.strokes().size(), 1u);
  d.clear();
  EXPECT_TRUE(d.blank());
  EXPECT_FALSE(d.undo());
  EXPECT_DOUBLE_EQ(d.fit(640, 480).scale, 480);  // blank again: the paper follows the canvas
}

// A 20 x 10 paper (255) with two "digits": ink 10 in columns 2..5, ink 20 in columns 12..15 (rows 2..7).
GrayImage two_digits() {
  GrayImage img;
  img.width = 20;
  img.height = 10;
  img.pixels.assign(200, 255);
  for (int y = 2; y < 8; ++y)
    for (int x = 2; x < 6; ++x) {
      img.pixels[size_t(y * 20 + x)] = 10;
      img.pixels[size_t(y * 20 + x + 10)] = 20;
    }
  return img;
}

TEST(GuiDrawing, CropDigitKeepsTheBoxWithAPaperMargin) {
  // The right digit's box, [12, 16) x [2, 8): longer side 6, margin 1.
  const GrayImage c = crop_digit(two_digits(), 12, 2, 16, 8);
  ASSERT_EQ(c.width, 6);
  ASSERT_EQ(c.height, 8);
  int ink = 0;
  for (int y = 0; y < c.height; ++y)
    for (int x = 0; x < c.width; ++x) {
      const bool inside = x >= 1 && x < 5 && y >= 1 && y < 7;
      EXPECT_EQ(c.at(x, y), inside ? 20 : 255) << x << "," << y;
      ink += c.at(x, y) == 20;
    }
  EXPECT_EQ(ink, 24);
}

TEST(GuiDrawing, CropDigitLeavesANeighbourOutAndPadsBeyondTheImage) {
  // A box whose margin would reach the left digit (columns 2..5) and the image's edges: paper there.
  const GrayImage c = crop_digit(two_digits(), 8, 0, 20, 10);  // margin 3: x from 5 to 23, y from -3 to 13
  ASSERT_EQ(c.width, 18);
  ASSERT_EQ(c.height, 16);
  for (int y = 0; y < c.height; ++y)
    for (int x = 0; x < c.width; ++x) EXPECT_NE(c.at(x, y), 10) << "the neighbour came along at " << x << "," << y;
  EXPECT_EQ(c.at(12 - 8 + 3, 2 + 3), 20);  // the digit itself, shifted by the margin
  EXPECT_EQ(c.at(0, 0), 255);
  EXPECT_EQ(c.at(17, 15), 255);
}

}  // namespace
}  // namespace digits::gui
