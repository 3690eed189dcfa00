// Device memory: cuda_malloc (throws CudaError "out of GPU memory allocating N bytes ..." rather than a
// bare error code) and DeviceBuffer, a move-only RAII allocation for internal scratch (cuDNN workspaces).
// Internal to digits_cuda.
#pragma once

#include <cstddef>
#include <utility>

#include "cuda_check.h"

namespace digits::cuda {

// cudaMalloc that names the size and the free/total memory of the current device on failure.
// Returns nullptr for 0 bytes.
void* cuda_malloc(size_t bytes);
// cudaFree that never throws (destructors); a failure is ignored.
void cuda_free(void* p) noexcept;

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes) : p_(cuda_malloc(bytes)), bytes_(bytes) {}
  ~DeviceBuffer() { cuda_free(p_); }
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      cuda_free(p_);
      p_ = std::exchange(o.p_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* get() const { return p_; }
  size_t bytes() const { return bytes_; }
  // Makes the buffer at least `bytes` long; contents are not kept. Frees before allocating, so the old
  // and new buffers never both occupy memory.
  void reserve(size_t bytes) {
    if (bytes <= bytes_) return;
    cuda_free(std::exchange(p_, nullptr));
    bytes_ = 0;
    p_ = cuda_malloc(bytes);
    bytes_ = bytes;
  }

 private:
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace digits::cuda
