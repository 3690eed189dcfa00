// Private to host/cpu and its measurements (the kernel report, the benchmarks): which algorithm the CPU
// convolutions run for a shape, and a switch that turns the direct kernel off as set_winograd_enabled
// (cpu_winograd.h) turns Winograd off. im2col + sgemm serves every shape.
#pragma once

#include <string>

#include "shapes.h"

namespace digits::cpu::detail {

enum class ConvAlgo { Winograd, Direct, Im2col };
const char* to_string(ConvAlgo a);  // "winograd", "direct", "im2col"

// The algorithm conv2d_forward / conv2d_backward_data / conv2d_backward_filter (`op`, by its name in
// host/ops.h) runs for s now, with the switches as they are. Backward data has no direct kernel.
ConvAlgo conv_algo(const std::string& op, const ConvShape& s);

// On by default. Off sends the shapes of the direct kernel (5x5 over few channels) to im2col.
void set_direct_enabled(bool on);
bool direct_enabled();

}  // namespace digits::cpu::detail
