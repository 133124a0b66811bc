//===- AttentionHarness.h - Host side of the attention test and bench ----===//
//
// Problem layouts, random inputs, fp16/bf16 rounding on the host, an fp64
// CPU reference, and launching a kernel of a fatbin through the driver API
// the way the runtime does (cuModuleLoadData, cuModuleGetFunction by name,
// one AttentionParams by value, dynamic shared memory from AttentionLaunch).
//
//===----------------------------------------------------------------------===//
#ifndef GAON_TEST_CUDA_KERNELS_ATTENTIONHARNESS_H
#define GAON_TEST_CUDA_KERNELS_ATTENTIONHARNESS_H

#include "CudaDriver.h"

#include "gaon/cuda_kernels/Attention.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace gaon::cuda_kernels::test {

//===----------------------------------------------------------------------===//
// Element types
//===----------------------------------------------------------------------===//

inline uint16_t floatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) // inf, NaN
    return static_cast<uint16_t>(sign | (ax > 0x7f800000u ? 0x7e00u : 0x7c00u));
  if (ax >= 0x477ff000u) // rounds to >= 65520: inf
    return static_cast<uint16_t>(sign | 0x7c00u);
  if (ax < 0x38800000u) { // below 2^-14: subnormal; exact in float * 2^24
    float a;
    std::memcpy(&a, &ax, 4);
    return static_cast<uint16_t>(
        sign | static_cast<uint32_t>(std::nearbyint(a * 16777216.0f)));
  }
  uint32_t h = ((((ax >> 23) - 112u) << 10) | ((ax >> 13) & 0x3ffu));
  const uint32_t rest = ax & 0x1fffu; // round to nearest even
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
    ++h;
  return static_cast<uint16_t>(sign | h);
}

inline float halfToFloat(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0) {
    const float v = std::ldexp(static_cast<float>(m), -24);
    return sign ? -v : v;
  }
  const uint32_t bits = sign | (e == 31 ? 0x7f800000u | (m << 13)
                                        : ((e + 112u) << 23) | (m << 13));
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline uint16_t floatToBf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) // NaN stays NaN
    return static_cast<uint16_t>((x >> 16) | 0x40u);
  x += 0x7fffu + ((x >> 16) & 1u); // round to nearest even
  return static_cast<uint16_t>(x >> 16);
}

inline float bf16ToFloat(uint16_t b) {
  const uint32_t x = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

inline size_t elementSize(AttentionDType t) {
  return t == AttentionDType::F32 ? 4 : 2;
}

inline const char *dtypeName(AttentionDType t) {
  switch (t) {
  case AttentionDType::F32:
    return "f32";
  case AttentionDType::F16:
    return "f16";
  case AttentionDType::BF16:
    return "bf16";
  }
  return "?";
}

/// Writes `v` rounded to `t` at element `i` of `bytes`; returns the value
/// actually stored.
inline double storeElement(std::vector<unsigned char> &bytes, AttentionDType t,
                           size_t i, double v) {
  const float f = static_cast<float>(v);
  if (t == AttentionDType::F32) {
    std::memcpy(bytes.data() + 4 * i, &f, 4);
    return f;
  }
  const uint16_t h = t == AttentionDType::F16 ? floatToHalf(f) : floatToBf16(f);
  std::memcpy(bytes.data() + 2 * i, &h, 2);
  return t == AttentionDType::F16 ? halfToFloat(h) : bf16ToFloat(h);
}

inline double loadElement(const std::vector<unsigned char> &bytes,
                          AttentionDType t, size_t i) {
  if (t == AttentionDType::F32) {
    float f;
    std::memcpy(&f, bytes.data() + 4 * i, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, bytes.data() + 2 * i, 2);
  return t == AttentionDType::F16 ? halfToFloat(h) : bf16ToFloat(h);
}

//===----------------------------------------------------------------------===//
// Problems
//===----------------------------------------------------------------------===//

enum class MaskKind {
  None,
  PerKey, ///< [B, 1, 1, Sk]: strides (Sk, 0, 0), e.g. padding
  PerRow, ///< [1, 1, Sq, Sk]: strides (0, 0, Sk), shared by batch and heads
  Full,   ///< [B, H, Sq, Sk]
};

struct Problem {
  AttentionDType dtype = AttentionDType::F16;
  int batch = 1, heads = 1, kvHeads = 1, seqQ = 1, seqK = 1, headDim = 64;
  bool causal = false;
  MaskKind mask = MaskKind::None;
  /// q, k, v, o in [B, S, H, D] (strides (S H Dp, Dp, H Dp)) instead of
  /// [B, H, S, D].
  bool bshd = false;
  /// Extra elements after each row of q/k/v/o (Dp = headDim + rowPad).
  int rowPad = 0;
  /// Fraction of mask entries that are -inf (others ~ N(0, 1)).
  double maskInfFraction = 0;
  /// A query row whose every mask entry is -inf (with MaskKind::Full or
  /// PerRow): its output must be exactly 0.
  int fullyMaskedRow = -1;
  /// The softmax scale; 0: 1 / sqrt(headDim). (The kernels fold a positive
  /// scale into the exponent; a negative one takes the general path.)
  double scale = 0;
  uint64_t seed = 1;

  double flops() const {
    const double f = 4.0 * batch * heads * seqQ * double(seqK) * headDim;
    return causal ? f / 2 : f; // the usual convention, exact for Sq == Sk
  }
  std::string describe() const;
};

inline std::string Problem::describe() const {
  std::string s = std::to_string(batch) + "x" + std::to_string(heads);
  if (kvHeads != heads)
    s += "(kv" + std::to_string(kvHeads) + ")";
  s += "x" + std::to_string(seqQ);
  if (seqK != seqQ)
    s += "(k" + std::to_string(seqK) + ")";
  s += "x" + std::to_string(headDim);
  s += std::string(" ") + dtypeName(dtype);
  if (causal)
    s += " causal";
  const char *masks[] = {"", " mask[B,1,1,Sk]", " mask[1,1,Sq,Sk]",
                         " mask[B,H,Sq,Sk]"};
  s += masks[static_cast<int>(mask)];
  if (bshd)
    s += " bshd";
  if (rowPad)
    s += " pad" + std::to_string(rowPad);
  return s;
}

/// A device tensor with a host mirror of its bytes and of the stored values.
struct Tensor {
  std::vector<unsigned char> bytes;
  std::vector<double> values; ///< what the device holds, as doubles
  int64_t stride[3] = {0, 0, 0};
  CUdeviceptr dev = 0;
};

/// Host data of one problem; `strides` describe each tensor's layout.
struct ProblemData {
  Tensor q, k, v, o, mask;
};

inline void makeQkvo(const Problem &p, int heads, int seq, Tensor &t) {
  const int64_t dp = p.headDim + p.rowPad;
  if (p.bshd) {
    t.stride[0] = int64_t(seq) * heads * dp;
    t.stride[1] = dp;
    t.stride[2] = int64_t(heads) * dp;
  } else {
    t.stride[0] = int64_t(heads) * seq * dp;
    t.stride[1] = int64_t(seq) * dp;
    t.stride[2] = dp;
  }
  const size_t n = size_t(p.batch) * heads * seq * dp;
  t.bytes.assign(n * elementSize(p.dtype), 0);
  t.values.assign(n, 0.0);
}

/// Random inputs for `p`: q, k, v ~ N(0, 1), row padding holds a sentinel
/// (so stray reads show up as wrong results and stray writes to o as
/// changed padding).
inline ProblemData makeProblemData(const Problem &p) {
  ProblemData d;
  std::mt19937_64 rng(p.seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  makeQkvo(p, p.heads, p.seqQ, d.q);
  makeQkvo(p, p.kvHeads, p.seqK, d.k);
  makeQkvo(p, p.kvHeads, p.seqK, d.v);
  makeQkvo(p, p.heads, p.seqQ, d.o);
  const int dp = p.headDim + p.rowPad;
  for (Tensor *t : {&d.q, &d.k, &d.v, &d.o})
    for (size_t i = 0; i < t->values.size(); ++i) {
      const bool pad = static_cast<int>(i % dp) >= p.headDim;
      double x = t == &d.o ? 1234.0 : pad ? 777.0 : normal(rng);
      t->values[i] = storeElement(t->bytes, p.dtype, i, x);
    }
  if (p.mask != MaskKind::None) {
    const int64_t sk = p.seqK;
    size_t n = 0;
    switch (p.mask) {
    case MaskKind::PerKey:
      d.mask.stride[0] = sk;
      n = size_t(p.batch) * sk;
      break;
    case MaskKind::PerRow:
      d.mask.stride[2] = sk;
      n = size_t(p.seqQ) * sk;
      break;
    case MaskKind::Full:
      d.mask.stride[0] = int64_t(p.heads) * p.seqQ * sk;
      d.mask.stride[1] = int64_t(p.seqQ) * sk;
      d.mask.stride[2] = sk;
      n = size_t(p.batch) * p.heads * p.seqQ * sk;
      break;
    case MaskKind::None:
      break;
    }
    d.mask.bytes.assign(n * elementSize(p.dtype), 0);
    d.mask.values.assign(n, 0.0);
    const double inf = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < n; ++i) {
      double x = uniform(rng) < p.maskInfFraction ? -inf : normal(rng);
      // The fully masked row: every (b, h) copy of query row r.
      if (p.fullyMaskedRow >= 0 && p.mask != MaskKind::PerKey &&
          static_cast<int>((i / sk) % p.seqQ) == p.fullyMaskedRow)
        x = -inf;
      d.mask.values[i] = storeElement(d.mask.bytes, p.dtype, i, x);
    }
  }
  return d;
}

inline AttentionParams makeParams(const Problem &p, const ProblemData &d) {
  AttentionParams a{};
  a.q = d.q.dev;
  a.k = d.k.dev;
  a.v = d.v.dev;
  a.o = d.o.dev;
  a.mask = d.mask.dev;
  a.batch = p.batch;
  a.heads = p.heads;
  a.kvHeads = p.kvHeads;
  a.seqQ = p.seqQ;
  a.seqK = p.seqK;
  a.headDim = p.headDim;
  a.causal = p.causal ? 1 : 0;
  a.scale = static_cast<float>(
      p.scale != 0 ? p.scale : 1.0 / std::sqrt(double(p.headDim)));
  for (int i = 0; i < 3; ++i) {
    a.qStride[i] = d.q.stride[i];
    a.kStride[i] = d.k.stride[i];
    a.vStride[i] = d.v.stride[i];
    a.oStride[i] = d.o.stride[i];
    a.maskStride[i] = d.mask.stride[i];
  }
  return a;
}

/// out[b, h, i, :] in fp64 from the stored (rounded) inputs into `o`
/// (headDim values); a row whose scores are all -inf gives 0, as the kernels
/// do.
inline void referenceRow(const Problem &p, const ProblemData &d, float scale,
                         int b, int h, int i, double *o) {
  const int Sq = p.seqQ, Sk = p.seqK, D = p.headDim;
  const int hk = h / (p.heads / p.kvHeads);
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> s(Sk);
  const double *q =
      &d.q.values[b * d.q.stride[0] + h * d.q.stride[1] + i * d.q.stride[2]];
  double mx = -inf;
  for (int j = 0; j < Sk; ++j) {
    const double *k =
        &d.k.values[b * d.k.stride[0] + hk * d.k.stride[1] + j * d.k.stride[2]];
    double dot = 0;
    for (int x = 0; x < D; ++x)
      dot += q[x] * k[x];
    double v = double(scale) * dot;
    if (p.mask != MaskKind::None)
      v += d.mask.values[b * d.mask.stride[0] + h * d.mask.stride[1] +
                         i * d.mask.stride[2] + j];
    if (p.causal && j > i + Sk - Sq)
      v = -inf;
    s[j] = v;
    mx = std::max(mx, v);
  }
  for (int x = 0; x < D; ++x)
    o[x] = 0;
  if (mx == -inf)
    return;
  double sum = 0;
  for (int j = 0; j < Sk; ++j) {
    s[j] = std::exp(s[j] - mx);
    sum += s[j];
  }
  for (int j = 0; j < Sk; ++j) {
    if (s[j] == 0)
      continue;
    const double *v =
        &d.v.values[b * d.v.stride[0] + hk * d.v.stride[1] + j * d.v.stride[2]];
    for (int x = 0; x < D; ++x)
      o[x] += s[j] / sum * v[x];
  }
}

/// All of out, [B, H, Sq, D] contiguous.
inline std::vector<double>
referenceAttention(const Problem &p, const ProblemData &d, float scale) {
  std::vector<double> out(size_t(p.batch) * p.heads * p.seqQ * p.headDim);
  for (int b = 0; b < p.batch; ++b)
    for (int h = 0; h < p.heads; ++h)
      for (int i = 0; i < p.seqQ; ++i)
        referenceRow(
            p, d, scale, b, h, i,
            &out[((size_t(b) * p.heads + h) * p.seqQ + i) * p.headDim]);
  return out;
}

/// How an output compares with the reference.
struct Comparison {
  double relL2 = 0;         ///< over all valid outputs
  size_t nonFinite = 0;     ///< NaN / inf outputs
  size_t padChanged = 0;    ///< row padding of o that was overwritten
  size_t maskedNonZero = 0; ///< nonzero outputs of fully masked rows
};

/// Compares d.o's bytes (as the kernel left them) with referenceAttention.
inline Comparison compareWithReference(const Problem &p, const ProblemData &d,
                                       float scale) {
  const std::vector<double> ref = referenceAttention(p, d, scale);
  const int dp = p.headDim + p.rowPad;
  Comparison c;
  double err2 = 0, ref2 = 0;
  for (int b = 0; b < p.batch; ++b)
    for (int h = 0; h < p.heads; ++h)
      for (int i = 0; i < p.seqQ; ++i) {
        const size_t row =
            size_t(b * d.o.stride[0] + h * d.o.stride[1] + i * d.o.stride[2]);
        const double *want =
            &ref[((size_t(b) * p.heads + h) * p.seqQ + i) * p.headDim];
        bool rowMasked = i == p.fullyMaskedRow ||
                         (p.causal && i + p.seqK - p.seqQ < 0) || p.seqK == 0;
        for (int x = 0; x < p.headDim; ++x)
          rowMasked = rowMasked && want[x] == 0;
        for (int x = 0; x < dp; ++x) {
          const double got = loadElement(d.o.bytes, p.dtype, row + x);
          if (x >= p.headDim) {
            c.padChanged += got != d.o.values[row + x]; // the sentinel
            continue;
          }
          if (!std::isfinite(got)) {
            ++c.nonFinite;
            continue;
          }
          c.maskedNonZero += rowMasked && got != 0;
          err2 += (got - want[x]) * (got - want[x]);
          ref2 += want[x] * want[x];
        }
      }
  c.relL2 = ref2 > 0 ? std::sqrt(err2 / ref2) : std::sqrt(err2);
  return c;
}

/// The accepted relative L2 error per dtype.
inline double tolerance(AttentionDType t) {
  return t == AttentionDType::F32 ? 1e-5 : 1e-2;
}

//===----------------------------------------------------------------------===//
// Device side
//===----------------------------------------------------------------------===//

/// A module loaded from an embedded fatbin, with its functions by name.
class Module {
public:
  Module(CudaDriver &drv, const void *image) : drv_(drv) {
    CUresult r = drv_.cuModuleLoadData(&module_, image);
    if (r != CUDA_SUCCESS) {
      module_ = nullptr;
      error_ = "cuModuleLoadData: " + drv_.describe(r);
    }
  }
  const std::string &error() const { return error_; }
  bool ok() const { return module_ != nullptr; }

  CUfunction function(const std::string &name, std::string *err) {
    auto it = functions_.find(name);
    if (it != functions_.end())
      return it->second;
    CUfunction f = nullptr;
    CUresult r = drv_.cuModuleGetFunction(&f, module_, name.c_str());
    if (r != CUDA_SUCCESS) {
      *err = "cuModuleGetFunction(" + name + "): " + drv_.describe(r);
      return nullptr;
    }
    functions_[name] = f;
    return f;
  }

private:
  CudaDriver &drv_;
  CUmodule module_ = nullptr;
  std::string error_;
  std::map<std::string, CUfunction> functions_;
};

/// Launches `launch` (an AttentionLaunch or GemmLaunch) like the runtime
/// driver: opt in to > 48 KiB of dynamic shared memory, pass the params by
/// value as the only argument.
template <typename Launch, typename Params>
std::string launchKernel(CudaDriver &drv, CUfunction f, const Launch &launch,
                         Params params, CUstream stream = nullptr) {
  if (launch.sharedBytes > 48 * 1024) {
    CUresult r = drv.cuFuncSetAttribute(
        f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
        static_cast<int>(launch.sharedBytes));
    if (r != CUDA_SUCCESS)
      return "cuFuncSetAttribute: " + drv.describe(r);
  }
  void *args[] = {&params};
  CUresult r =
      drv.cuLaunchKernel(f, launch.grid[0], launch.grid[1], launch.grid[2],
                         launch.block[0], launch.block[1], launch.block[2],
                         launch.sharedBytes, stream, args, nullptr);
  if (r != CUDA_SUCCESS)
    return std::string("cuLaunchKernel(") + launch.kernel +
           "): " + drv.describe(r);
  return "";
}

inline std::string launchAttention(CudaDriver &drv, CUfunction f,
                                   const AttentionLaunch &launch,
                                   AttentionParams params,
                                   CUstream stream = nullptr) {
  return launchKernel(drv, f, launch, params, stream);
}

/// Allocates and uploads every tensor of `d` (mask only when present).
inline std::string upload(CudaDriver &drv, ProblemData &d) {
  for (Tensor *t : {&d.q, &d.k, &d.v, &d.o, &d.mask}) {
    if (t->bytes.empty())
      continue;
    CUresult r = drv.cuMemAlloc_v2(&t->dev, t->bytes.size());
    if (r == CUDA_SUCCESS)
      r = drv.cuMemcpyHtoD_v2(t->dev, t->bytes.data(), t->bytes.size());
    if (r != CUDA_SUCCESS)
      return "upload: " + drv.describe(r);
  }
  return "";
}

inline void release(CudaDriver &drv, ProblemData &d) {
  for (Tensor *t : {&d.q, &d.k, &d.v, &d.o, &d.mask})
    if (t->dev) {
      drv.cuMemFree_v2(t->dev);
      t->dev = 0;
    }
}

} // namespace gaon::cuda_kernels::test

#endif // GAON_TEST_CUDA_KERNELS_ATTENTIONHARNESS_H
