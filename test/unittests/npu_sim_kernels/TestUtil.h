//===- TestUtil.h - Harness for the NPU kernel tests -------------*- C++
//-*-===//
//
// Allocates tensors in simulated DRAM, fills them with random data, runs the
// emitted stream and compares against references computed in double.
//
//===----------------------------------------------------------------------===//
#ifndef GAON_NPU_KERNELS_TESTUTIL_H
#define GAON_NPU_KERNELS_TESTUTIL_H

#include "gaon/npu_kernels/Kernels.h"
#include "gaon/npu_sim/Simulator.h"

#include <cmath>
#include <random>
#include <vector>

namespace gaon::npu_kernels::test {

using namespace npu_sim;

struct Harness {
  explicit Harness(const std::string &preset = "tiny")
      : Harness(loadChip(preset)) {}
  explicit Harness(ChipDesc desc)
      : chip(std::move(desc)), sim(chip), emitter(stream, chip) {}

  Tensor alloc(DType type, std::vector<int64_t> shape) {
    Tensor t{next, type, std::move(shape)};
    next = (next + t.bytes() + 4095) / 4096 * 4096 + 4096;
    return t;
  }
  /// A tensor of uniform random values in [lo, hi), rounded to its dtype.
  Tensor input(DType type, std::vector<int64_t> shape, float lo = -1,
               float hi = 1) {
    Tensor t = alloc(type, std::move(shape));
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> values(t.numel());
    for (float &v : values)
      v = dist(rng);
    write(t, values);
    return t;
  }
  void write(const Tensor &t, const std::vector<float> &values) {
    std::vector<uint8_t> bytes = encodeValues(t.dtype, values);
    sim.writeDram(t.addr, bytes.data(), bytes.size());
  }
  std::vector<float> read(const Tensor &t) const {
    std::vector<uint8_t> bytes(t.bytes());
    sim.readDram(t.addr, bytes.data(), bytes.size());
    return decodeValues(t.dtype, bytes.data(), t.numel());
  }
  Report run(bool functional = true) {
    RunOptions options;
    options.functional = functional;
    return sim.run(stream, options);
  }

  ChipDesc chip;
  Simulator sim;
  Stream stream;
  StreamEmitter emitter;
  uint64_t next = 0x10000;
  std::mt19937 rng{1234};
};

/// The operands of an M x K x N matmul with a fused bias + activation +
/// residual epilogue: random A, B, bias and residual, and the output.
struct EpilogueProblem {
  Tensor a, b, bias, res, out;
  Epilogue ep;
};
inline EpilogueProblem epilogueProblem(Harness &h, int64_t M, int64_t K,
                                       int64_t N, DType type, Activation act) {
  EpilogueProblem p;
  p.a = h.input(type, {M, K});
  p.b = h.input(type, {K, N});
  p.bias = h.input(type, {N});
  p.res = h.input(type, {M, N});
  p.out = h.alloc(type, {M, N});
  p.ep.bias = p.bias;
  p.ep.residual = p.res;
  p.ep.activation = act;
  return p;
}

/// Multicast DMAs in a stream (all cores).
inline size_t multicastCount(const Stream &stream) {
  size_t n = 0;
  for (const auto &program : stream.cores)
    for (const Instr &instr : program)
      if (auto *d = std::get_if<DmaCmd>(&instr.cmd); d && d->multicast > 1)
        ++n;
  return n;
}

/// ||got - ref|| / max(||ref||, tiny).
inline double relL2(const std::vector<float> &got,
                    const std::vector<double> &ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    double d = double(got[i]) - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  if (got.size() != ref.size())
    return INFINITY;
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

inline double tolerance(DType type) { return type == DType::F32 ? 1e-5 : 1e-2; }

/// An epilogue activation in double precision.
inline double refActivation(Activation act, double x) {
  switch (act) {
  case Activation::None:
    return x;
  case Activation::Relu:
    return x > 0 ? x : 0;
  case Activation::Gelu:
    return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
  case Activation::GeluTanh:
    return 0.5 * x *
           (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
  case Activation::Silu:
    return x / (1 + std::exp(-x));
  }
  return x;
}

/// A [M, K] x [K, N] product in double (row-major).
inline std::vector<double> refGemm(const std::vector<float> &a,
                                   const std::vector<float> &b, int64_t M,
                                   int64_t K, int64_t N) {
  std::vector<double> out(M * N);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k)
        acc += double(a[m * K + k]) * b[k * N + n];
      out[m * N + n] = acc;
    }
  return out;
}

/// The matmul epilogue on a reference product `mm` (rows of `n`, in
/// place): act(alpha mm + bias[col]) + residual (an empty residual: none).
inline void refEpilogue(std::vector<double> &mm, int64_t n, Activation act,
                        const std::vector<float> &bias,
                        const std::vector<float> &residual = {},
                        double alpha = 1) {
  for (size_t i = 0; i < mm.size(); ++i)
    mm[i] = refActivation(act, alpha * mm[i] + bias[i % n]) +
            (residual.empty() ? 0.0 : residual[i]);
}

/// Row-major index helpers for references.
inline std::vector<int64_t> unravel(int64_t flat,
                                    const std::vector<int64_t> &shape) {
  std::vector<int64_t> idx(shape.size());
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    idx[i] = flat % shape[i];
    flat /= shape[i];
  }
  return idx;
}
/// Flat index into `shape` of the broadcast index `outIdx` (NumPy rules).
inline int64_t broadcastIndex(const std::vector<int64_t> &outIdx,
                              const std::vector<int64_t> &shape) {
  int64_t flat = 0;
  size_t lead = outIdx.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i)
    flat = flat * shape[i] + (shape[i] == 1 ? 0 : outIdx[lead + i]);
  return flat;
}
inline int64_t numel(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

} // namespace gaon::npu_kernels::test

#endif
