// Builds a batch from the data set resident on the device (uint8): gathers the images of a shuffled
// index, converts and normalises them to float, and copies their labels. Grid y walks the images,
// grid x their pixels, so no thread divides.
#include "gather_batch.cuh"
#include "launch.cuh"

namespace digits::cuda {

// ---- kernels ------------------------------------------------------------------------------------------

__global__ void gather_batch_kernel(int n, int pixels, const uint8_t* __restrict__ images,
                                    const uint8_t* __restrict__ labels, const int32_t* __restrict__ index, float scale,
                                    float shift, float* __restrict__ x, int32_t* __restrict__ labels_out) {
  for (int i = blockIdx.y; i < n; i += gridDim.y) {
    const size_t src = size_t(index[i]) * pixels;
    float* dst = x + size_t(i) * pixels;
    for (int p = blockIdx.x * blockDim.x + threadIdx.x; p < pixels; p += gridDim.x * blockDim.x)
      // Rounded multiply then add, never fused: the same two roundings as the CPU's `v * scale + shift`.
      dst[p] = __fadd_rn(__fmul_rn(float(images[src + p]), scale), shift);
    if (blockIdx.x == 0 && threadIdx.x == 0) labels_out[i] = labels[index[i]];
  }
}

// ---- launchers ----------------------------------------------------------------------------------------

namespace launch {

void gather_batch(cudaStream_t st, int n, int pixels, const uint8_t* images, const uint8_t* labels,
                  const int32_t* index, float scale, float shift, float* x, int32_t* labels_out) {
  if (n <= 0) return;
  const dim3 grid(std::max(1u, blocks_for(size_t(pixels))), unsigned(std::min(n, 65535)));
  gather_batch_kernel<<<grid, kBlock, 0, st>>>(n, pixels, images, labels, index, scale, shift, x, labels_out);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace launch

// ---- ops ----------------------------------------------------------------------------------------------

void gather_batch(int n, int pixels, const uint8_t* images, const uint8_t* labels, const int32_t* index, float scale,
                  float shift, float* x, int32_t* labels_out) {
  launch::gather_batch(current_stream(), n, pixels, images, labels, index, scale, shift, x, labels_out);
  DIGITS_CUDA_AFTER_OP("gather_batch");
}

}  // namespace digits::cuda
