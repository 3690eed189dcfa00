// HostBackend: the memory half of a Backend over host memory, shared by the CPU backend and the reference
// backend (the op harness's oracle). Memory is 64-byte aligned (one cache line, one AVX-512 vector).
#pragma once

#include <memory>

#include "backend.h"

namespace digits {

class HostBackend : public Backend {
 public:
  DeviceKind kind() const override { return DeviceKind::Cpu; }
  void* allocate(size_t bytes) override;
  void deallocate(void* p) noexcept override;
  void upload(void* dst, const void* host_src, size_t bytes) override { copy(dst, host_src, bytes); }
  void download(void* host_dst, const void* src, size_t bytes) override { copy(host_dst, src, bytes); }
  void copy(void* dst, const void* src, size_t bytes) override;
  void fill(float* p, size_t n, float value) override;
};

// The plain-loop digits::reference ops as a Backend: slow and obviously correct, for tests only.
std::unique_ptr<Backend> make_reference_backend();

}  // namespace digits
