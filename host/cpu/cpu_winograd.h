// Private to host/cpu: 3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3) (Lavin &
// Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): 16 small matrix products over
// transformed 4x4 tiles replace 2.25 times as many multiply-adds of im2col. Same results as the
// reference up to float rounding; every result is independent of the thread count.
#pragma once

#include "shapes.h"

namespace digits::cpu::detail {

// True when the Winograd path serves this shape (3x3 filter, pad <= 2, enough channels both ways
// for the 16 products to run near the matrix-product speed).
bool winograd_applicable(const ConvShape& s);

// On by default. Off sends every shape to im2col: tests and benchmarks compare the two paths with it.
void set_winograd_enabled(bool on);
bool winograd_enabled();

void winograd_forward(const ConvShape& s,
                      const float* x,  // (N, C, H, W)
                      const float* w,  // (K, C, 3, 3)
                      float* y);       // (N, K, P, Q)
void winograd_backward_data(const ConvShape& s,
                            const float* dy,  // (N, K, P, Q)
                            const float* w,   // (K, C, 3, 3)
                            float* dx);       // (N, C, H, W)
void winograd_backward_filter(const ConvShape& s,
                              const float* x,   // (N, C, H, W)
                              const float* dy,  // (N, K, P, Q)
                              float* dw);       // (K, C, 3, 3)

}  // namespace digits::cpu::detail
