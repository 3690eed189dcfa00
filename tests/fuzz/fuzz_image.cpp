// libFuzzer target: the image decoders behind `digits predict` and the window (PNG, JPEG, PGM/PPM/PBM),
// then the MNIST-style preprocessing of what they accept, as fuzz_inputs.h describes.
#include "fuzz_common.h"
#include "fuzz_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  digits::fuzz::expect_success_or_error([&] { digits::fuzz::image_input(data, size); });
  return 0;
}
