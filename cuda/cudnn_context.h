// Per-thread, per-device library state: the cuDNN and cuBLAS handles (created on first use, bound to the
// thread's current stream), RAII cuDNN descriptors, one workspace, and the convolution plans: descriptors
// plus the algorithm of each direction, chosen once per (shape, TF32 setting) and cached.
// Internal to digits_cuda.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <string>

#include "cuda_check.h"
#include "device_buffer.h"
#include "shapes.h"

namespace digits::cuda {

// ---- RAII descriptors ---------------------------------------------------------------------------------

class TensorDesc {
 public:
  TensorDesc() { CUDNN_CHECK(cudnnCreateTensorDescriptor(&d_)); }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d_); }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
  // float32, NCHW, dense
  void set(int n, int c, int h, int w) {
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(d_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w));
  }
  operator cudnnTensorDescriptor_t() const { return d_; }

 private:
  cudnnTensorDescriptor_t d_ = nullptr;
};

class FilterDesc {
 public:
  FilterDesc() { CUDNN_CHECK(cudnnCreateFilterDescriptor(&d_)); }
  ~FilterDesc() { cudnnDestroyFilterDescriptor(d_); }
  FilterDesc(const FilterDesc&) = delete;
  FilterDesc& operator=(const FilterDesc&) = delete;
  // float32, KCRS (PyTorch OIHW)
  void set(int k, int c, int r, int s) {
    CUDNN_CHECK(cudnnSetFilter4dDescriptor(d_, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, k, c, r, s));
  }
  operator cudnnFilterDescriptor_t() const { return d_; }

 private:
  cudnnFilterDescriptor_t d_ = nullptr;
};

class ConvDesc {
 public:
  ConvDesc() { CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d_)); }
  ~ConvDesc() { cudnnDestroyConvolutionDescriptor(d_); }
  ConvDesc(const ConvDesc&) = delete;
  ConvDesc& operator=(const ConvDesc&) = delete;
  // stride 1, dilation 1, cross-correlation (what deep-learning frameworks call convolution), float32
  void set(int pad) {
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(d_, pad, pad, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  }
  void set_math(cudnnMathType_t m) { CUDNN_CHECK(cudnnSetConvolutionMathType(d_, m)); }
  operator cudnnConvolutionDescriptor_t() const { return d_; }

 private:
  cudnnConvolutionDescriptor_t d_ = nullptr;
};

class PoolDesc {
 public:
  PoolDesc() { CUDNN_CHECK(cudnnCreatePoolingDescriptor(&d_)); }
  ~PoolDesc() { cudnnDestroyPoolingDescriptor(d_); }
  PoolDesc(const PoolDesc&) = delete;
  PoolDesc& operator=(const PoolDesc&) = delete;
  void set_max(int size) {
    CUDNN_CHECK(cudnnSetPooling2dDescriptor(d_, CUDNN_POOLING_MAX, CUDNN_NOT_PROPAGATE_NAN, size, size, 0, 0, size, size));
  }
  operator cudnnPoolingDescriptor_t() const { return d_; }

 private:
  cudnnPoolingDescriptor_t d_ = nullptr;
};

// ---- convolution plans --------------------------------------------------------------------------------

// One direction's algorithm: `algo` is a cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t value.
struct ConvAlgo {
  bool chosen = false;
  int algo = 0;
  cudnnMathType_t math = CUDNN_FMA_MATH;
  size_t workspace = 0;  // bytes
  std::string how;       // "find" or "heuristic", for logs
};

struct ConvPlan {
  explicit ConvPlan(const ConvShape& s, bool tf32_on);
  ConvShape shape;
  bool tf32 = false;
  TensorDesc x, y;  // (N,C,H,W), (N,K,P,Q)
  FilterDesc w;     // (K,C,R,S)
  ConvDesc conv;
  ConvAlgo forward, backward_data, backward_filter;
};

// ---- the context ----------------------------------------------------------------------------------------

class CudaContext {
 public:
  // This thread's context for the current device (created on first use).
  static CudaContext& current();
  ~CudaContext();
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

  // The cuDNN handle, bound to this thread's current stream.
  cudnnHandle_t cudnn();
  // The cuBLAS handle, bound to the current stream, math mode per tf32(): CUBLAS_DEFAULT_MATH (float32 FMA,
  // never TF32) when off, CUBLAS_TF32_TENSOR_OP_MATH when on.
  cublasHandle_t cublas();
  // The plan for this shape and the current TF32 setting; algorithms still to be chosen.
  ConvPlan& conv_plan(const ConvShape& s);
  // Scratch of at least `bytes`, valid until the next call (grows: allocation and a device sync).
  void* workspace(size_t bytes);
  int device() const { return device_; }

 private:
  explicit CudaContext(int device) : device_(device) {}
  int device_;
  cudnnHandle_t cudnn_ = nullptr;
  cudaStream_t cudnn_stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cudaStream_t cublas_stream_ = nullptr;
  int cublas_math_ = -1;
  DeviceBuffer cublas_workspace_;
  DeviceBuffer workspace_;
  // key: N, C, H, W, K, R, S, pad, settings (tf32 | deterministic | heuristic)
  std::map<std::array<int, 9>, std::unique_ptr<ConvPlan>> plans_;
};

}  // namespace digits::cuda
