// libFuzzer target: the safetensors reader (load_model_file) and, for files it accepts that carry a spec,
// the model loader (load_model), as fuzz_inputs.h describes.
#include "fuzz_common.h"
#include "fuzz_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  digits::fuzz::expect_success_or_error(
      [&] { digits::fuzz::safetensors_input(data, size, digits::fuzz::scratch_dir()); });
  return 0;
}
