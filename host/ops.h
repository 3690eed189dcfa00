// The op table: every op's name, signature and precondition, written once. Each line is
//   DIGITS_OP(name, (parameters), (arguments), precondition)
// and the includer defines DIGITS_OP to expand it: declarations of the three implementations with
// identical signatures in digits::reference (plain loops, the test oracle), digits::cpu (the optimised
// CPU path) and digits::cuda (device pointers; cuda/cuda_ops.h) come from the default below; Backend's
// checked dispatch and its virtual functions (host/backend.h), the adapters' forwarding (CpuBackend,
// CudaBackend, the reference backend) and the reference wrappers are all expanded from these lines. The
// precondition (host/op_checks.h) runs in Backend before any implementation. Adding an op is a line here,
// its implementations, and its case in the op harness (tests/harness/op_cases.cpp).
//
// Conventions (all implementations):
//  - Tensors are float32, dense, NCHW. Pointers are to memory of the implementation's device.
//  - Every op OVERWRITES its outputs (never accumulates) unless the comment says "+=".
//  - Gradients get a `d` prefix. Backward ops take the forward inputs/outputs they need.
//  - Dropout draws its mask from Philox4x32-10 keyed by (seed, element index), so the mask is
//    recomputed in backward (no mask buffer) and is identical on every backend (host/philox.h).
// This file has no include guard on purpose: it is expanded once per use. Without a DIGITS_OP of the
// includer's it declares the ops as free functions (include it inside the implementation's namespace).
#ifndef DIGITS_OP
#define DIGITS_OP(name, params, args, check) void name params;
#define DIGITS_OP_DECLARE_ONLY
#endif

// clang-format off
// ---- convolution ------------------------------------------------------------------------------
// y (N,K,P,Q) = conv(x (N,C,H,W), w (K,C,R,S)) ; no bias (see bias_forward)
DIGITS_OP(conv2d_forward, (const ConvShape& s, const float* x, const float* w, float* y),
          (s, x, w, y), op_checks::conv(s))
// dx (N,C,H,W) from dy (N,K,P,Q) and w
DIGITS_OP(conv2d_backward_data, (const ConvShape& s, const float* dy, const float* w, float* dx),
          (s, dy, w, dx), op_checks::conv(s))
// dw (K,C,R,S) from x and dy, summed over the batch
DIGITS_OP(conv2d_backward_filter, (const ConvShape& s, const float* x, const float* dy, float* dw),
          (s, x, dy, dw), op_checks::conv(s))

// ---- bias: y (N,C,HW) += b (C) in place; db (C) = sum over N and HW of dy -----------------------
DIGITS_OP(bias_forward, (int N, int C, int HW, const float* b, float* y),
          (N, C, HW, b, y), op_checks::planes("bias_forward", N, C, HW))
DIGITS_OP(bias_backward, (int N, int C, int HW, const float* dy, float* db),
          (N, C, HW, dy, db), op_checks::planes("bias_backward", N, C, HW))

// ---- max pooling -------------------------------------------------------------------------------
// y (N,C,P,Q); argmax (N,C,P,Q) holds the flat index h*W+w of the max inside its (n,c) plane
// (the first one in row-major order on ties).
DIGITS_OP(maxpool_forward, (const PoolShape& s, const float* x, float* y, int32_t* argmax),
          (s, x, y, argmax), op_checks::pool(s))
// dx (N,C,H,W): zero except dy routed to each argmax.
DIGITS_OP(maxpool_backward, (const PoolShape& s, const float* dy, const int32_t* argmax, float* dx),
          (s, dy, argmax, dx), op_checks::pool(s))

// ---- global average pooling: y (N,C) = mean of x (N,C,HW) over HW; dx (N,C,HW) = dy (N,C) / HW ----
DIGITS_OP(gap_forward, (int N, int C, int HW, const float* x, float* y),
          (N, C, HW, x, y), op_checks::planes("gap_forward", N, C, HW))
DIGITS_OP(gap_backward, (int N, int C, int HW, const float* dy, float* dx),
          (N, C, HW, dy, dx), op_checks::planes("gap_backward", N, C, HW))

// ---- dense -------------------------------------------------------------------------------------
// y (N,out) = x (N,in) w^T, w (out,in); no bias (see bias_forward with HW = 1)
DIGITS_OP(dense_forward, (const DenseShape& s, const float* x, const float* w, float* y),
          (s, x, w, y), op_checks::dense(s))
// dx (N,in) = dy (N,out) w
DIGITS_OP(dense_backward_data, (const DenseShape& s, const float* dy, const float* w, float* dx),
          (s, dy, w, dx), op_checks::dense(s))
// dw (out,in) = dy^T x
DIGITS_OP(dense_backward_weight, (const DenseShape& s, const float* x, const float* dy, float* dw),
          (s, x, dy, dw), op_checks::dense(s))

// ---- activations -------------------------------------------------------------------------------
// y = max(x, 0); x and y may alias.
DIGITS_OP(relu_forward, (size_t n, const float* x, float* y),
          (n, x, y), op_checks::none())
// dx = dy where y > 0 else 0 (y is the forward output); dy and dx may alias.
DIGITS_OP(relu_backward, (size_t n, const float* y, const float* dy, float* dx),
          (n, y, dy, dx), op_checks::none())

// ---- dropout (inverted): keep with probability 1-rate and scale kept values by 1/(1-rate) --------
// Element i is kept when philox_uniform(seed, i) >= rate. x and y may alias.
DIGITS_OP(dropout_forward, (size_t n, float rate, uint64_t seed, const float* x, float* y),
          (n, rate, seed, x, y), op_checks::dropout(rate))
DIGITS_OP(dropout_backward, (size_t n, float rate, uint64_t seed, const float* dy, float* dx),
          (n, rate, seed, dy, dx), op_checks::dropout(rate))

// ---- softmax cross-entropy ---------------------------------------------------------------------
// probs (N,K) = softmax(logits (N,K)); loss (N) = -log(probs[label]) computed stably from logits;
// if dlogits is not null: dlogits (N,K) = (probs - onehot(label)) * scale  (scale is usually 1/N).
DIGITS_OP(softmax_xent, (int N, int K, const float* logits, const int32_t* labels, float* probs, float* loss, float* dlogits, float scale),
          (N, K, logits, labels, probs, loss, dlogits, scale), op_checks::rows("softmax_xent", N, K))
// stats[0] += sum of loss over N; stats[1] += number of rows whose argmax(probs) == label
// (first max on ties). stats is 2 doubles in the implementation's memory.
DIGITS_OP(accumulate_stats, (int N, int K, const float* probs, const int32_t* labels, const float* loss, double* stats),
          (N, K, probs, labels, loss, stats), op_checks::rows("accumulate_stats", N, K))

// ---- batches from the resident data set ---------------------------------------------------------
// For i in [0, n): image = images[index[i]] (uint8, pixels each); x (n, pixels) = image * scale + shift;
// labels_out[i] = labels[index[i]].
DIGITS_OP(gather_batch, (int n, int pixels, const uint8_t* images, const uint8_t* labels, const int32_t* index, float scale, float shift, float* x, int32_t* labels_out),
          (n, pixels, images, labels, index, scale, shift, x, labels_out), op_checks::gather(n, pixels))

// ---- augmented batches (training): gather_batch, then each image resampled through a random map ------
// Image i (H x W, uint8) is images[index[i]]. Its random numbers are u_k = philox_uniform(seed, 64 i + k),
// k = 0..36, so every backend draws the same transform for the same (seed, i). With c_x = (W-1)/2,
// c_y = (H-1)/2:
//   theta = rotate_deg * pi/180 * (2 u0 - 1)   zoom z = 1 + zoom * (2 u1 - 1)   shear h = shear * (2 u2 - 1)
//   t_x = translate * (2 u3 - 1)               t_y = translate * (2 u4 - 1)
// Elastic part: a 4x4 grid of control nodes on the image corners, node (a, b) (a = row, b = column,
// 0..3) at row a (H-1)/3, column b (W-1)/3 with displacement
//   e_x = elastic * (2 u(5 + 2 (4a + b)) - 1),  e_y = elastic * (2 u(6 + 2 (4a + b)) - 1),
// interpolated bilinearly between nodes to (ex(r, c), ey(r, c)) for every output pixel.
// Output pixel (row r, column c): X = c - c_x, Y = r - c_y, X' = X + h Y, and the source point is
//   xs = ( cos(theta) X' + sin(theta) Y) / z + c_x - t_x + ex(r, c)
//   ys = (-sin(theta) X' + cos(theta) Y) / z + c_y - t_y + ey(r, c)
// value = bilinear interpolation of the image at (ys, xs), pixels outside the image read as 0;
// x (n, H*W) = value * scale + shift; labels_out[i] = labels[index[i]].
// With every AugmentParams field 0 the output equals gather_batch's exactly. zoom must be below 1 (the
// scale stays positive); an image of one row (column) takes every row (column) from node row (column) 0.
DIGITS_OP(augment_batch, (int n, int H, int W, const uint8_t* images, const uint8_t* labels, const int32_t* index, const AugmentParams& a, uint64_t seed, float scale, float shift, float* x, int32_t* labels_out),
          (n, H, W, images, labels, index, a, seed, scale, shift, x, labels_out), op_checks::augment(n, H, W, a))

// ---- batch normalization over x (N, C, HW): per channel c, statistics over the N*HW values ----------
// Training: mean and biased variance var of the batch per channel; inv_std = 1 / sqrt(var + eps);
//   y = gamma (x - mean) inv_std + beta; batch_mean, batch_inv_std (C) are saved for backward;
//   running_mean = (1 - momentum) running_mean + momentum mean;
//   running_var  = (1 - momentum) running_var  + momentum var * M / (M - 1)   (M = N*HW > 1; as PyTorch)
DIGITS_OP(batchnorm_forward_train, (int N, int C, int HW, float eps, float momentum, const float* x, const float* gamma, const float* beta, float* y, float* batch_mean, float* batch_inv_std, float* running_mean, float* running_var),
          (N, C, HW, eps, momentum, x, gamma, beta, y, batch_mean, batch_inv_std, running_mean, running_var), op_checks::batchnorm_train(N, C, HW, eps, momentum))
// Inference: y = gamma (x - running_mean) / sqrt(running_var + eps) + beta. x and y may alias.
DIGITS_OP(batchnorm_forward_infer, (int N, int C, int HW, float eps, const float* x, const float* gamma, const float* beta, const float* running_mean, const float* running_var, float* y),
          (N, C, HW, eps, x, gamma, beta, running_mean, running_var, y), op_checks::batchnorm(N, C, HW, eps))
// Backward through the training-mode forward: with xhat = (x - batch_mean) batch_inv_std,
//   dbeta = sum dy, dgamma = sum dy xhat (over N and HW), dx = gamma batch_inv_std (dy - (dbeta + xhat dgamma) / M).
DIGITS_OP(batchnorm_backward, (int N, int C, int HW, const float* x, const float* dy, const float* gamma, const float* batch_mean, const float* batch_inv_std, float* dx, float* dgamma, float* dbeta),
          (N, C, HW, x, dy, gamma, batch_mean, batch_inv_std, dx, dgamma, dbeta), op_checks::batchnorm(N, C, HW, 1.f))

// ---- optimizers over flat parameter buffers (w, g and state all of length n) --------------------
// Adadelta as Keras: a = rho a + (1-rho) g^2; d = sqrt(u + eps) / sqrt(a + eps) * g;
//                    u = rho u + (1-rho) d^2; w -= lr d
DIGITS_OP(adadelta_update, (size_t n, const AdadeltaParams& p, float* w, const float* g, float* accum_grad, float* accum_delta),
          (n, p, w, g, accum_grad, accum_delta), op_checks::none())
// SGD with momentum as PyTorch: v = momentum v + g; w -= lr v
DIGITS_OP(sgd_update, (size_t n, const SgdParams& p, float* w, const float* g, float* velocity),
          (n, p, w, g, velocity), op_checks::none())
// Adam: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
DIGITS_OP(adam_update, (size_t n, const AdamParams& p, float* w, const float* g, float* m, float* v),
          (n, p, w, g, m, v), op_checks::adam(p))
// clang-format on

#ifdef DIGITS_OP_DECLARE_ONLY
#undef DIGITS_OP
#undef DIGITS_OP_DECLARE_ONLY
#endif
