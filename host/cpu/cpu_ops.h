// The optimised CPU implementations of host/ops.h (same signatures as digits::reference): blocked,
// vectorised, threaded with OpenMP, matrix products through OpenBLAS. Host pointers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shapes.h"

namespace digits::cpu {
#include "ops.h"

// Number of threads the CPU ops use (OpenMP and OpenBLAS). 0 = all cores. Results do not depend on it.
void set_num_threads(int n);
int num_threads();
}  // namespace digits::cpu
