// libFuzzer target: the IDX reader (raw and gzip) and the MNIST split loader (label range, count match).
// The input layout (a mode byte, then the payload) is described in fuzz_inputs.h.
#include "fuzz_common.h"
#include "fuzz_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  digits::fuzz::expect_success_or_error([&] { digits::fuzz::idx_input(data, size, digits::fuzz::scratch_dir()); });
  return 0;
}
