//===- GemmHarness.h - Problems and the fp64 reference for gemm.cu --------===//
//
// Shared by gemm_emulation_test.cpp (the kernels on the CPU) and
// gemm_test.cpp (on a GPU): random operands rounded to the kernel's input
// type, the fp64 reference of D = act(alpha A.B + beta C + bias) from those
// rounded values, and the comparison at the output type's tolerance.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_TEST_CUDA_KERNELS_GEMMHARNESS_H
#define GAON_TEST_CUDA_KERNELS_GEMMHARNESS_H

#include "gaon/cuda_kernels/Gemm.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace gaon::cuda_kernels::test {

struct GemmProblem {
  GemmShape shape;
  int m = 1, n = 8, k = 8;
  GemmEpilogue epilogue = GemmEpilogue::None;
  float alpha = 1.0f, beta = 0.0f;
  uint64_t seed = 1;

  std::string describe() const {
    std::ostringstream os;
    os << (shape.dtype == GemmDType::BF16 ? "bf16" : "f16")
       << (shape.f32Out ? "_o32" : "_o16")
       << (shape.bTransposed ? "_nt" : "_nn") << "_" << m << "x" << n << "x"
       << k << "_e" << static_cast<int>(epilogue)
       << (beta != 0.0f ? "_residual" : "");
    return os.str();
  }
};

/// 16-bit storage of a value in the problem's input type.
inline uint16_t toBits(float v, GemmDType t) {
  uint16_t bits;
  if (t == GemmDType::BF16) {
    __nv_bfloat16 h = __float2bfloat16_rn(v);
    std::memcpy(&bits, &h, 2);
  } else {
    __half h = __float2half_rn(v);
    std::memcpy(&bits, &h, 2);
  }
  return bits;
}

inline double fromBits(uint16_t bits, GemmDType t) {
  if (t == GemmDType::BF16) {
    __nv_bfloat16 h;
    std::memcpy(&h, &bits, 2);
    return __bfloat162float(h);
  }
  __half h;
  std::memcpy(&h, &bits, 2);
  return __half2float(h);
}

/// Host operands: A, B, bias in the input type; C and D in the output type
/// (f32 or the input type), as raw bytes.
struct GemmData {
  std::vector<uint16_t> a, b, bias;
  std::vector<unsigned char> c, d;
  std::vector<double> reference;

  size_t outBytes(const GemmProblem &p) const { return p.shape.f32Out ? 4 : 2; }
  double out(const GemmProblem &p, size_t i) const {
    if (p.shape.f32Out) {
      float v;
      std::memcpy(&v, d.data() + 4 * i, 4);
      return v;
    }
    uint16_t bits;
    std::memcpy(&bits, d.data() + 2 * i, 2);
    return fromBits(bits, p.shape.dtype);
  }
};

inline bool epilogueHasBias(GemmEpilogue e) {
  return e == GemmEpilogue::Bias || e == GemmEpilogue::BiasGelu ||
         e == GemmEpilogue::BiasRelu;
}

inline double activation(double x, GemmEpilogue e) {
  if (e == GemmEpilogue::Gelu || e == GemmEpilogue::BiasGelu)
    return 0.5 * x *
           (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
  if (e == GemmEpilogue::Relu || e == GemmEpilogue::BiasRelu)
    return x > 0 ? x : 0;
  return x;
}

/// Operands with values in [-1, 1) and the fp64 reference. D starts as
/// NaN bytes, so an output the kernel misses fails the comparison.
inline GemmData makeGemmData(const GemmProblem &p) {
  GemmData data;
  std::mt19937_64 rng(p.seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const GemmDType t = p.shape.dtype;
  auto fill = [&](std::vector<uint16_t> &v, size_t count) {
    v.resize(count);
    for (uint16_t &x : v)
      x = toBits(dist(rng), t);
  };
  fill(data.a, size_t(p.m) * p.k);
  fill(data.b, size_t(p.k) * p.n);
  fill(data.bias, size_t(p.n));
  const size_t ob = data.outBytes(p);
  data.c.resize(size_t(p.m) * p.n * ob);
  std::vector<double> c(size_t(p.m) * p.n);
  for (size_t i = 0; i < c.size(); ++i) {
    float v = dist(rng);
    if (p.shape.f32Out) {
      std::memcpy(data.c.data() + 4 * i, &v, 4);
      c[i] = v;
    } else {
      uint16_t bits = toBits(v, t);
      std::memcpy(data.c.data() + 2 * i, &bits, 2);
      c[i] = fromBits(bits, t);
    }
  }
  data.d.assign(size_t(p.m) * p.n * ob, 0xff);
  data.reference.resize(size_t(p.m) * p.n);
  for (int i = 0; i < p.m; ++i)
    for (int j = 0; j < p.n; ++j) {
      double acc = 0;
      for (int kk = 0; kk < p.k; ++kk) {
        // B is K x N, or N x K when transposed.
        size_t bi =
            p.shape.bTransposed ? size_t(j) * p.k + kk : size_t(kk) * p.n + j;
        acc +=
            fromBits(data.a[size_t(i) * p.k + kk], t) * fromBits(data.b[bi], t);
      }
      double v = p.alpha * acc;
      if (p.beta != 0.0f)
        v += p.beta * c[size_t(i) * p.n + j];
      if (epilogueHasBias(p.epilogue))
        v += fromBits(data.bias[j], t);
      data.reference[size_t(i) * p.n + j] = activation(v, p.epilogue);
    }
  return data;
}

/// Parameters for dense row-major operands at the given device (or host)
/// addresses.
inline GemmParams gemmParams(const GemmProblem &p, uint64_t a, uint64_t b,
                             uint64_t bias, uint64_t c, uint64_t d,
                             uint64_t workspace, uint64_t counters) {
  GemmParams params = {};
  params.a = a;
  params.b = b;
  params.bias = epilogueHasBias(p.epilogue) ? bias : 0;
  params.c = p.beta != 0.0f ? c : 0;
  params.d = d;
  params.workspace = workspace;
  params.counters = counters;
  params.m = p.m;
  params.n = p.n;
  params.k = p.k;
  params.lda = p.k;
  params.ldb = p.shape.bTransposed ? p.k : p.n;
  params.ldc = p.n;
  params.ldd = p.n;
  params.epilogue = static_cast<int32_t>(p.epilogue);
  params.alpha = p.alpha;
  params.beta = p.beta;
  return params;
}

/// "" when every output is within tolerance of the reference: fp32
/// accumulation of K products (relative 1e-5 of the sum of magnitudes'
/// scale) plus the output type's rounding.
inline std::string compareGemm(const GemmProblem &p, const GemmData &data) {
  const double rounding = p.shape.f32Out                     ? 1e-6
                          : p.shape.dtype == GemmDType::BF16 ? 8e-3
                                                             : 1e-3;
  const double accumulation = 1e-5 * std::sqrt(double(p.k));
  for (size_t i = 0; i < data.reference.size(); ++i) {
    const double ref = data.reference[i], got = data.out(p, i);
    const double tol = rounding * std::fabs(ref) + accumulation + 1e-6;
    if (!(std::fabs(got - ref) <= tol)) {
      std::ostringstream os;
      os << p.describe() << ": D[" << i / p.n << "," << i % p.n << "] = " << got
         << ", reference " << ref << " (tolerance " << tol << ")";
      return os.str();
    }
  }
  return "";
}

/// Calls fn(tile, shape) for every entry point of gemm.cu: each tile shape
/// with f16/bf16 inputs, input-type/f32 outputs and both B layouts.
template <typename Fn> void forEachGemmEntryPoint(Fn fn) {
  for (int tile = 0; tile < gemmTileCount(); ++tile)
    for (GemmDType t : {GemmDType::F16, GemmDType::BF16})
      for (bool f32Out : {false, true})
        for (bool bT : {false, true})
          fn(tile, GemmShape{t, f32Out, bT});
}

} // namespace gaon::cuda_kernels::test

#endif // GAON_TEST_CUDA_KERNELS_GEMMHARNESS_H
