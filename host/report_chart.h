// The kernel report's picture (DIR/kernels.png): a log-log roofline with one point per op and
// backend/variant (colour: backend/variant; shape: convolution, dense or other op), each backend's roof
// from its measured peaks, axes, ticks, a title and a legend, drawn with raster.h on an RgbImage.
#pragma once

#include "kernel_report.h"
#include "png_rgb.h"

namespace digits {

inline constexpr int kChartWidth = 1400, kChartHeight = 900;

// requires: every row's backend has peaks in the report. An empty report gives the axes and roofs only.
RgbImage roofline_chart(const KernelReport& r);

}  // namespace digits
