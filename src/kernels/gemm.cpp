// oneDNN GEMM for prefill. oneDNN picks its own kernel for the CPU (AVX2/AVX-512 sgemm, AMX
// tiles for bf16) and threads with the same OpenMP runtime as the rest of supra.
#include "kernels/gemm.h"

#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <string>
#include <vector>

#include "kernels/interleave.h"
#include "kernels/simd.h"
#include "supra/error.h"

namespace supra::kernels {
namespace {

// Weights decoded to float32 per GEMM call, in bytes: a panel of 512 rows ran at 131
// GFLOP/s against 159-175 for 2048+ rows (oneDNN sgemm, T = 512, k = 2048, 2 AVX2 cores),
// and 32 MiB bounds the scratch at any shape.
constexpr std::int64_t kPanelBytes = std::int64_t{32} << 20;
constexpr std::int64_t kMinPanelRows = 64;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::memory::data_type onednn_type(DType type) {
  switch (type) {
    case DType::F32: return dnnl::memory::data_type::f32;
    case DType::BF16: return dnnl::memory::data_type::bf16;
    default: throw Error("oneDNN matmul: unsupported operand type " + std::string(dtype_name(type)));
  }
}

}  // namespace

bool bf16_gemm_native() {
  static const bool native = [] {
    // oneDNN's ISA values are sets of feature bits; every ISA with native bf16 (AVX512-BF16,
    // AMX and their successors) contains those of avx512_core_bf16.
    const auto bf16 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
    return (static_cast<unsigned>(dnnl::get_effective_cpu_isa()) & bf16) == bf16;
  }();
  return native;
}

bool gemm_in_bf16(DType weights) { return weights != DType::F32 && bf16_gemm_native(); }

std::string gemm_path(DType weights) {
  if (weights == DType::F32) return "oneDNN sgemm";
  if (gemm_in_bf16(weights))
    return weights == DType::BF16 ? "oneDNN bf16 matmul (AVX512-BF16/AMX)"
                                  : "oneDNN bf16 matmul (AVX512-BF16/AMX) on bf16 panels";
  return "oneDNN sgemm on float32 panels";
}

void matmul_primitive(float* y, std::int64_t ldy, const void* x, const void* w, DType type, std::int64_t T,
                      std::int64_t N, std::int64_t K) {
  using dims = dnnl::memory::dims;
  const auto operand = onednn_type(type);
  const dnnl::memory::desc src({T, K}, operand, dims{K, 1});
  const dnnl::memory::desc weights({K, N}, operand, dims{1, K});  // wᵀ: element (k, n) at n·K + k
  const dnnl::memory::desc dst({T, N}, dnnl::memory::data_type::f32, dims{ldy, 1});
  try {
    // oneDNN's primitive cache makes the second and later creations of a shape cheap.
#if DNNL_VERSION_MAJOR >= 3
    const dnnl::matmul::primitive_desc pd(cpu_engine(), src, weights, dst);
#else
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, weights, dst), cpu_engine());
#endif
    dnnl::stream stream(cpu_engine());
    dnnl::matmul(pd).execute(stream, {{DNNL_ARG_SRC, dnnl::memory(src, cpu_engine(), const_cast<void*>(x))},
                                      {DNNL_ARG_WEIGHTS, dnnl::memory(weights, cpu_engine(), const_cast<void*>(w))},
                                      {DNNL_ARG_DST, dnnl::memory(dst, cpu_engine(), y)}});
    stream.wait();
  } catch (const dnnl::error& e) {
    throw Error("oneDNN matmul (" + std::string(dtype_name(type)) + ") failed: " + e.what());
  }
}

void round_to_bf16(std::uint16_t* out, const float* x, std::int64_t n) {
  const dnnl::memory::desc from({n}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a);
  const dnnl::memory::desc to({n}, dnnl::memory::data_type::bf16, dnnl::memory::format_tag::a);
  try {
    dnnl::memory src(from, cpu_engine(), const_cast<float*>(x)), dst(to, cpu_engine(), out);
    dnnl::stream stream(cpu_engine());
    dnnl::reorder(src, dst).execute(stream, src, dst);
    stream.wait();
  } catch (const dnnl::error& e) {
    throw Error(std::string("oneDNN bf16 reorder failed: ") + e.what());
  }
}

void sgemm(char trans_a, char trans_b, std::int64_t M, std::int64_t N, std::int64_t K, float alpha, const float* A,
           std::int64_t lda, const float* B, std::int64_t ldb, float beta, float* C, std::int64_t ldc) {
  // oneDNN threads its sgemm with OpenMP. Called from inside one of our parallel loops (attention
  // over heads or kv groups), even one that runs on one thread because its work is small
  // (`if` clause), it opened a nested team on every call: 1,540 of them in a 1,100-token softmax
  // decode, whose spinning threads turned that decode on a busy 2-core machine into a near-hang.
  // Inside any parallel region the GEMM runs on the calling thread alone: the loop around it holds
  // the threads it should have (nthreads-var is per task, so the outer count is restored below).
  const bool nested = omp_get_level() > 0;
  const int outer_threads = omp_get_max_threads();
  if (nested) omp_set_num_threads(1);
  const dnnl_status_t st = dnnl_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  if (nested) omp_set_num_threads(outer_threads);
  if (st != dnnl_success) throw Error("oneDNN sgemm failed (status " + std::to_string(int(st)) + ")");
}

void gemm(float* y, const float* x, const Matrix& w, std::int64_t T) {
  const std::int64_t K = w.cols;
  if (w.dtype == DType::F32) {
    sgemm('N', 'T', T, w.rows, K, 1.0f, x, K, reinterpret_cast<const float*>(w.data), K, 0.0f, y, w.rows);
    return;
  }
  // Scratch reused across calls by the calling thread (the workers below write through it).
  thread_local std::vector<std::uint16_t> x_bf16, panel_bf16;
  thread_local std::vector<float> panel;
  const bool bf16 = gemm_in_bf16(w.dtype);
  if (bf16) {
    x_bf16.resize(static_cast<std::size_t>(T * K));
    round_to_bf16(x_bf16.data(), x, T * K);
    if (w.dtype == DType::BF16) {  // the weights as stored: no decode, half the bytes of float32
      matmul_primitive(y, w.rows, x_bf16.data(), w.data, DType::BF16, T, w.rows, K);
      return;
    }
  }
  // Whole Lanes16 groups per panel and per decode call: a group decodes in one pass.
  const std::int64_t panel_rows = std::min(
      w.rows, std::max(kMinPanelRows, kPanelBytes / (K * std::int64_t{sizeof(float)})) / kLaneRows * kLaneRows);
  if (bf16) {
    // Decoded straight to bf16 (F16 and block-quantized values lose at most bf16's rounding,
    // 2⁻⁹ relative: what the activations lose too, and far below a 4- or 8-bit format's own
    // error), in one pass: no float32 panel and rounding pass over it.
    panel_bf16.resize(static_cast<std::size_t>(panel_rows * K));
    for (std::int64_t r0 = 0; r0 < w.rows; r0 += panel_rows) {
      const std::int64_t n = std::min(panel_rows, w.rows - r0);
      std::uint16_t* const buf = panel_bf16.data();
#pragma omp parallel for schedule(static)
      for (std::int64_t r = r0; r < r0 + n; r += kLaneRows)
        simd::decode_rows_bf16(buf + (r - r0) * K, w, r, std::min(r + kLaneRows, r0 + n));
      matmul_primitive(y + r0, w.rows, x_bf16.data(), buf, DType::BF16, T, n, K);
    }
    return;
  }
  panel.resize(static_cast<std::size_t>(panel_rows * K));
  float* const buf = panel.data();
  for (std::int64_t r0 = 0; r0 < w.rows; r0 += panel_rows) {
    const std::int64_t n = std::min(panel_rows, w.rows - r0);
#pragma omp parallel for schedule(static)
    for (std::int64_t r = r0; r < r0 + n; ++r) simd::decode_rows(buf + (r - r0) * K, w, r, r + 1);
    sgemm('N', 'T', T, n, K, 1.0f, x, K, buf, K, 0.0f, y + r0, w.rows);
  }
}

}  // namespace supra::kernels
