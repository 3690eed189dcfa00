// Drawing on an RgbImage (png_rgb.h) for reports and charts (the eval misread grid, the kernel report's
// roofline): text in a small built-in 5x7 bitmap font (own glyphs, so no font library is needed), lines and
// filled rectangles. Pixels outside the image are clipped.
#pragma once

#include <string>

#include "png_rgb.h"

namespace digits {

// ---- bitmap font ----------------------------------------------------------------------------------

// 5x7 glyphs on a 6-pixel advance: digits, a-z (upper case is drawn as lower case), space and # % ( ) , - . / : > ? + = _ '
// Any other character is drawn as '?'.
inline constexpr int kGlyphW = 5, kGlyphH = 7, kGlyphAdvance = 6;
// Whether pixel (x, y) of c's glyph is ink; requires 0 <= x < kGlyphW, 0 <= y < kGlyphH.
bool glyph_pixel(char c, int x, int y);
// Width in pixels of `text` drawn at `scale` (no trailing gap).
int text_width(const std::string& text, int scale = 1);
// Draws `text` with its top-left at (x, y); pixels outside the image are clipped. Returns the x after it.
int draw_text(RgbImage& img, int x, int y, const std::string& text, Rgb colour, int scale = 1);

// The same turned 90 degrees counter-clockwise (read bottom to top), starting at (x, y) and going up.
void draw_text_up(RgbImage& img, int x, int y, const std::string& text, Rgb colour, int scale = 1);

// ---- shapes -----------------------------------------------------------------------------------------

void fill_rect(RgbImage& img, int x, int y, int w, int h, Rgb c);
// A line from (x0, y0) to (x1, y1), `width` pixels wide; dashed when dash > 0 (dash pixels on, dash off).
void draw_line(RgbImage& img, int x0, int y0, int x1, int y1, Rgb c, int width = 1, int dash = 0);

}  // namespace digits
