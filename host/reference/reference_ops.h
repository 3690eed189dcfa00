// Plain-loop implementations of every op in host/ops.h: obviously correct, slow, the oracle for tests.
// Never used for speed. Host pointers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shapes.h"

namespace digits::reference {
#include "ops.h"
}  // namespace digits::reference
