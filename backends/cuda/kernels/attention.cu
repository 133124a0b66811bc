//===- attention.cu - Fused (flash) attention kernels
//----------------------===//
//
// One CTA computes BM query rows of one (batch, head) and streams the keys
// and values through shared memory in tiles of BN rows, keeping a running
// row maximum and row sum (online softmax), so the seqQ x seqK scores never
// reach global memory. See docs/cuda-attention-kernel.md.
//
// fp16/bf16: tensor cores through mma.sync.m16n8k16 (fp32 accumulation),
// operands read from shared memory with ldmatrix, tiles loaded with cp.async.
// Each warp owns 16*MT query rows; the score fragments (C layout) turn into
// the A operand of P.V without going through shared memory.
//
// fp32: CUDA cores, true fp32 FMA and expf (no TF32, no fast math).
//
// Every entry point is extern "C" with one AttentionParams by value: the
// runtime launches them through the driver API by name
// (chooseAttentionLaunch in AttentionLaunch.cpp picks name and shape).
//
// With GAON_CUDA_EMULATION the host compiler builds this file against
// test/unittests/cuda_kernels/CudaEmulation.h, which runs the kernels on the
// CPU (CI has no GPU); the few lines of inline PTX have emulated twins.
//
//===----------------------------------------------------------------------===//

#include "AttentionConfig.h"
#include "TensorCore.cuh"
#include "gaon/cuda_kernels/Attention.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

using gaon::cuda_kernels::AttentionDType;
using gaon::cuda_kernels::AttentionParams;

// Probe points for bench/cuda_attention_probe.cu (nothing otherwise):
// 0 start, 1 round `n`'s tile ready, 2 round `n` done, 3 loop done,
// 4 output stored.
#ifndef GAON_ATTENTION_MARK
#define GAON_ATTENTION_MARK(point, round)
#endif

namespace {

constexpr float kLog2e = 1.4426950408889634f;

__device__ __forceinline__ float negInf() { return __int_as_float(0xff800000); }

// 2^x; ex2.approx maps -inf to +0, which the masking relies on.
__device__ __forceinline__ float fastExp2(float x) {
#ifdef GAON_CUDA_EMULATION
  return std::exp2(x);
#else
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
#endif
}

template <AttentionDType D> struct TcScalarOf;
template <> struct TcScalarOf<AttentionDType::F16> { using type = __half; };
template <> struct TcScalarOf<AttentionDType::BF16> {
  using type = __nv_bfloat16;
};
template <AttentionDType D> using TcScalar = typename TcScalarOf<D>::type;

/// True when every q/k/v/o row can be moved in 16-byte pieces: addresses
/// 16-byte aligned, strides and head dim multiples of 8 elements. The host
/// side (AttentionLaunch.cpp) makes the same test to pick a specialized
/// kernel; the generic kernels test it themselves.
__device__ __forceinline__ bool rowsAre16ByteAligned(const AttentionParams &p) {
  if ((p.q | p.k | p.v | p.o) & 15)
    return false;
  for (int i = 0; i < 3; ++i)
    if ((p.qStride[i] | p.kStride[i] | p.vStride[i] | p.oStride[i]) & 7)
      return false;
  return (p.headDim & 7) == 0;
}

/// Tensor-core flash attention.
///   T        __half or __nv_bfloat16
///   DP       head dim the tiles are laid out for (multiple of 16)
///   BM, BN   query rows per CTA, keys per tile
///   NW       warps; each owns MT = BM / (16 NW) m16 tiles of query rows
///   QREG     keep the warp's Q fragments in registers for the whole loop
///   GENERIC  runtime head dim <= DP and unaligned rows allowed; otherwise
///            headDim == DP and rowsAre16ByteAligned hold (host checks)
template <typename T, int DP, int BM, int BN, int NW, bool QREG, bool GENERIC>
__device__ __forceinline__ void tcAttention(const AttentionParams &p) {
  using Ty = TcType<T>;
  constexpr int NT = NW * 32;
  // KG warps per row tile split the keys (AttentionConfig.h): RW row warps
  // of MT m16 tiles each, KG key groups of BN keys per round of BNR keys.
  constexpr int KG = gaon::cuda_kernels::tcAttentionKeyGroups(BM, NW);
  constexpr int RW = NW / KG;
  constexpr int BNR = BN * KG;
  constexpr int MT = BM / (16 * RW);
  // +8 elements (16 bytes) per row: the 8 rows of every ldmatrix 8x8 matrix
  // then start in 8 different 4-bank groups, so no bank conflicts.
  constexpr int LD = DP + 8;
  constexpr int KC = DP / 16; // k steps of Q.K^T
  constexpr int NTS = BN / 8; // n tiles of S
  constexpr int DT = DP / 8;  // n tiles of O
  constexpr int CH = DP / 8;  // 16-byte chunks per row
  static_assert(MT >= 1 && BM == MT * 16 * RW && NW == RW * KG,
                "BM must be 16 * NW * MT, or 16 with NW key groups");
  static_assert(BN % 16 == 0 && DP % 16 == 0, "tile shape");
  constexpr int STAGES =
      gaon::cuda_kernels::tcAttentionKvStages(DP, BM, BN, NW);
  static_assert(gaon::cuda_kernels::tcAttentionSharedBytes(DP, BM, BN, NW) ==
                    (BM + 2 * STAGES * BNR) * LD * sizeof(T),
                "AttentionConfig.h disagrees with the layout below");
  // The key groups' merge: per group > 0 and row warp, every lane's
  // accumulators, row maxima and row sums, in the K/V buffers.
  constexpr int MERGE_PER_LANE = MT * DT * 4 + MT * 2 * 2;
  static_assert(KG == 1 || (KG - 1) * RW * 32 * MERGE_PER_LANE * 4 <=
                               2 * STAGES * BNR * LD * int(sizeof(T)),
                "key-group merge does not fit the K/V buffers");
  static_assert(gaon::cuda_kernels::tcAttentionSharedBytes(DP, BM, BN, NW) <=
                    gaon::cuda_kernels::kMaxAttentionSharedBytes,
                "too much shared memory for sm_86/sm_89/sm_120");

  GAON_DYNAMIC_SHARED(smem);
  T *sQ = reinterpret_cast<T *>(smem);
  // Stage s holds a round's K rows, then its V rows.
  auto kBuf = [&](int s) { return sQ + BM * LD + s * 2 * BNR * LD; };
  auto vBuf = [&](int s) { return sQ + BM * LD + s * 2 * BNR * LD + BNR * LD; };

  const int tid = threadIdx.x;
  const int warp = tid / 32, lane = tid % 32;
  const int rowWarp = warp % RW, group = warp / RW;
  const int g = lane >> 2, t = lane & 3; // mma fragment row group / column pair
  GAON_ATTENTION_MARK(0, 0);
  // With a causal mask the last query blocks see the most keys: CTAs take
  // them first, of every head before any shorter block (the blocks of one
  // head after another left the last heads' long blocks for a second wave:
  // 1x12x1024 causal has 384 CTAs for 264 slots).
  const int cta = blockIdx.x + gridDim.x * blockIdx.y;
  const int mBlock = gridDim.x - 1 - cta / gridDim.y;
  const int h = cta % gridDim.y, b = blockIdx.z;
  const int hk = h / (p.heads / p.kvHeads);
  const int m0 = mBlock * BM;
  const int headDim = GENERIC ? p.headDim : DP;
  const bool vec = GENERIC ? rowsAre16ByteAligned(p) : true;
  const int seqQ = p.seqQ, seqK = p.seqK, diag = seqK - seqQ;

  const T *gQ =
      reinterpret_cast<const T *>(p.q) + b * p.qStride[0] + h * p.qStride[1];
  const T *gK =
      reinterpret_cast<const T *>(p.k) + b * p.kStride[0] + hk * p.kStride[1];
  const T *gV =
      reinterpret_cast<const T *>(p.v) + b * p.vStride[0] + hk * p.vStride[1];
  T *gO = reinterpret_cast<T *>(p.o) + b * p.oStride[0] + h * p.oStride[1];
  const T *gMask = p.mask ? reinterpret_cast<const T *>(p.mask) +
                                b * p.maskStride[0] + h * p.maskStride[1]
                          : nullptr;

  // Rows [row0, row0 + R) of a seq x headDim matrix into a R x LD tile;
  // rows >= rows and columns >= headDim read as 0.
  auto loadTile = [&](T *s, const T *gsrc, int64_t stride, int row0, int rows,
                      auto rTag) {
    constexpr int R = decltype(rTag)::value;
    if (!GENERIC || vec) {
      constexpr int ITER = (R * CH + NT - 1) / NT;
#pragma unroll
      for (int it = 0; it < ITER; ++it) {
        const int idx = tid + it * NT;
        if ((R * CH) % NT == 0 || idx < R * CH) {
          const int r = idx / CH, c = idx % CH;
          const bool ok = row0 + r < rows && (!GENERIC || c * 8 < headDim);
          const T *src = ok ? gsrc + (row0 + r) * stride + c * 8 : gsrc;
          cpAsync16(smemAddr(s + r * LD + c * 8), src, ok);
        }
      }
    } else {
      for (int idx = tid; idx < R * DP; idx += NT) {
        const int r = idx / DP, c = idx % DP;
        T x = Ty::zero();
        if (row0 + r < rows && c < headDim)
          x = gsrc[(row0 + r) * stride + c];
        s[r * LD + c] = x;
      }
    }
  };
  using RowsBM = std::integral_constant<int, BM>;
  using RowsBN = std::integral_constant<int, BNR>;

  // Keys this CTA needs: all, or with a causal mask up to its last row's
  // diagonal. nTiles == 0 (every row fully masked) writes zeros.
  int nEnd = seqK;
  if (p.causal)
    nEnd = min(seqK, min(m0 + BM, seqQ) + diag);
  const int nTiles = nEnd > 0 ? (nEnd + BNR - 1) / BNR : 0; // rounds

  loadTile(sQ, gQ, p.qStride[2], m0, seqQ, RowsBM{});
  if (nTiles > 0) {
    loadTile(kBuf(0), gK, p.kStride[2], 0, seqK, RowsBN{});
    loadTile(vBuf(0), gV, p.vStride[2], 0, seqK, RowsBN{});
  }
  cpAsyncCommit();

  const int warpRow0 = rowWarp * 16 * MT; // this warp's first row in the tile
  const float scaleLog2 = p.scale * kLog2e;

  float acc[MT][DT][4];
  float rowMax[MT][2], rowSum[MT][2];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int dt = 0; dt < DT; ++dt)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        acc[mt][dt][e] = 0.f;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      rowMax[mt][r] = negInf();
      rowSum[mt][r] = 0.f;
    }
  }
  uint32_t qFrag[QREG ? MT : 1][QREG ? KC : 1][4];

  // ldmatrix lane addresses (see the m16n8k16 fragment layouts):
  //   A (Q, row major):   row lane%16, column 8*(lane/16)
  //   B (K, "col"):       key (lane%8) + 8*(lane/16), column 8*((lane/8)%2)
  //   B (V, transposed):  key (lane%8) + 8*((lane/8)%2), column 8*(lane/16)
  const int aRow = lane & 15, aCol = (lane >> 4) * 8;
  const int kRow = (lane & 7) + ((lane >> 4) << 3),
            kCol = ((lane >> 3) & 1) * 8;
  const int vRow = (lane & 7) + (((lane >> 3) & 1) << 3),
            vCol = (lane >> 4) * 8;

  for (int n = 0; n < nTiles; ++n) {
    const int stage = STAGES == 2 ? (n & 1) : 0;
    // This warp's keys of round n: [n0, n0 + BN). With key groups a group
    // may be past the last key (or the causal diagonal): its scores are
    // all masked, and it adds nothing.
    const int n0 = n * BNR + group * BN;
    const T *sK = kBuf(stage) + group * BN * LD,
            *sV = vBuf(stage) + group * BN * LD;
    if (STAGES == 2) {
      // Tile n + 1 streams into the other stage while tile n is computed:
      // each tile waits for loads issued a whole tile earlier.
      if (n + 1 < nTiles) {
        loadTile(kBuf(stage ^ 1), gK, p.kStride[2], (n + 1) * BNR, seqK,
                 RowsBN{});
        loadTile(vBuf(stage ^ 1), gV, p.vStride[2], (n + 1) * BNR, seqK,
                 RowsBN{});
        cpAsyncCommit();
        cpAsyncWaitGroup<1>(); // tile n (and Q) have landed
      } else {
        cpAsyncWaitGroup<0>();
      }
    } else {
      if (n > 0) {
        loadTile(kBuf(0), gK, p.kStride[2], n * BNR, seqK, RowsBN{});
        loadTile(vBuf(0), gV, p.vStride[2], n * BNR, seqK, RowsBN{});
        cpAsyncCommit();
      }
      cpAsyncWaitGroup<0>();
    }
    __syncthreads(); // tile n visible to every warp
    GAON_ATTENTION_MARK(1, n);
    if (QREG && n == 0) {
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int kc = 0; kc < KC; ++kc)
          ldmatrixX4(
              qFrag[QREG ? mt : 0][QREG ? kc : 0],
              smemAddr(sQ + (warpRow0 + mt * 16 + aRow) * LD + kc * 16 + aCol));
    }
    float s[MT][NTS][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int nt = 0; nt < NTS; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          s[mt][nt][e] = 0.f;

#pragma unroll
    for (int kc = 0; kc < KC; ++kc) {
      if (GENERIC && kc * 16 >= headDim)
        break; // zero columns contribute nothing
      uint32_t a[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        if (QREG) {
#pragma unroll
          for (int e = 0; e < 4; ++e)
            a[mt][e] = qFrag[QREG ? mt : 0][QREG ? kc : 0][e];
        } else {
          ldmatrixX4(a[mt], smemAddr(sQ + (warpRow0 + mt * 16 + aRow) * LD +
                                     kc * 16 + aCol));
        }
      }
#pragma unroll
      for (int np = 0; np < NTS / 2; ++np) {
        uint32_t bk[4];
        ldmatrixX4(bk, smemAddr(sK + (np * 16 + kRow) * LD + kc * 16 + kCol));
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          Ty::mma(s[mt][2 * np], a[mt], bk[0], bk[1]);
          Ty::mma(s[mt][2 * np + 1], a[mt], bk[2], bk[3]);
        }
      }
    }

    // Scores in log2 units (exp2 below): x = s * scale * log2(e) + mask *
    // log2(e), -inf where causal or past the last key. Fragment element e
    // of n tile nt is row g + 8 (e / 2), key 8 nt + 2 t + e % 2. Most
    // tiles lie off every edge: without a mask their scale moves into the
    // exponent's FMA (k below), and a mask that is the same for every
    // query row (padding masks, [B, 1, 1, Sk]) is read once per key.
    const bool edge = n0 + BN > seqK || (p.causal && n0 + BN - 1 > m0 + diag);
    const bool keyMask = gMask && p.maskStride[2] == 0;
    float k = 1.f; // the softmax takes exp2(k s - max(k s))
    if (!edge && !gMask && scaleLog2 > 0.f) {
      k = scaleLog2;
    } else if (!edge && (!gMask || keyMask)) {
#pragma unroll
      for (int nt = 0; nt < NTS; ++nt) {
#pragma unroll
        for (int c = 0; c < 2; ++c) {
          const float m =
              keyMask ? Ty::toFloat(gMask[n0 + nt * 8 + 2 * t + c]) * kLog2e
                      : 0.f;
#pragma unroll
          for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int r = 0; r < 2; ++r)
              s[mt][nt][2 * r + c] = fmaf(s[mt][nt][2 * r + c], scaleLog2, m);
        }
      }
    } else {
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          const int i = m0 + warpRow0 + mt * 16 + g + 8 * r;
          const T *maskRow =
              gMask && i < seqQ ? gMask + i * p.maskStride[2] : nullptr;
#pragma unroll
          for (int nt = 0; nt < NTS; ++nt) {
#pragma unroll
            for (int c = 0; c < 2; ++c) {
              const int j = n0 + nt * 8 + 2 * t + c;
              float x = s[mt][nt][2 * r + c] * scaleLog2;
              if (maskRow && j < seqK)
                x = fmaf(Ty::toFloat(maskRow[j]), kLog2e, x);
              if (edge && (j >= seqK || (p.causal && j > i + diag)))
                x = negInf();
              s[mt][nt][2 * r + c] = x;
            }
          }
        }
      }
    }

    // Online softmax over k s (k > 0, so max(k s) = k max(s)). The 4 lanes
    // of a quad hold one row; the max is reduced across them now, the sum
    // only at the end (each lane keeps a partial sum, rescaled by the same
    // factor). A row whose scores are all -inf so far subtracts 0 instead
    // of -inf (no inf - inf = NaN); its probabilities are exp2(-inf) = 0.
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float mx = s[mt][0][2 * r];
#pragma unroll
        for (int nt = 0; nt < NTS; ++nt)
          mx = fmaxf(mx, fmaxf(s[mt][nt][2 * r], s[mt][nt][2 * r + 1]));
        mx = fmaxf(rowMax[mt][r], mx * k);
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float ref = mx == negInf() ? 0.f : mx;
        const float corr = fastExp2(rowMax[mt][r] - ref);
        rowMax[mt][r] = mx;
        float sum = 0.f;
#pragma unroll
        for (int nt = 0; nt < NTS; ++nt) {
#pragma unroll
          for (int c = 0; c < 2; ++c) {
            const float e = fastExp2(fmaf(s[mt][nt][2 * r + c], k, -ref));
            s[mt][nt][2 * r + c] = e;
            sum += e;
          }
        }
        rowSum[mt][r] = rowSum[mt][r] * corr + sum;
#pragma unroll
        for (int dt = 0; dt < DT; ++dt) {
          acc[mt][dt][2 * r] *= corr;
          acc[mt][dt][2 * r + 1] *= corr;
        }
      }
    }

    // O += P.V: the S accumulators of n tiles 2kc, 2kc+1 are exactly the A
    // fragment of keys [16 kc, 16 kc + 16).
#pragma unroll
    for (int kc = 0; kc < BN / 16; ++kc) {
      uint32_t a[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        a[mt][0] = Ty::pack(s[mt][2 * kc][0], s[mt][2 * kc][1]);
        a[mt][1] = Ty::pack(s[mt][2 * kc][2], s[mt][2 * kc][3]);
        a[mt][2] = Ty::pack(s[mt][2 * kc + 1][0], s[mt][2 * kc + 1][1]);
        a[mt][3] = Ty::pack(s[mt][2 * kc + 1][2], s[mt][2 * kc + 1][3]);
      }
#pragma unroll
      for (int dp = 0; dp < DP / 16; ++dp) {
        if (GENERIC && dp * 16 >= headDim)
          break;
        uint32_t bv[4];
        ldmatrixX4Trans(bv,
                        smemAddr(sV + (kc * 16 + vRow) * LD + dp * 16 + vCol));
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          Ty::mma(acc[mt][2 * dp], a[mt], bv[0], bv[1]);
          Ty::mma(acc[mt][2 * dp + 1], a[mt], bv[2], bv[3]);
        }
      }
    }
    GAON_ATTENTION_MARK(2, n);
    __syncthreads(); // every warp done with this stage before it refills
  }

  // Epilogue: O / rowSum (0 for rows with no finite score), staged through
  // this warp's own rows of the Q tile (no other warp reads them) so that
  // global stores are whole 16-byte row pieces. When nTiles == 0 the Q tile
  // load (spread over all threads) may still be landing: wait for it
  // everywhere before overwriting.
  cpAsyncWaitAll();
  __syncthreads();
  GAON_ATTENTION_MARK(3, nTiles);
  if constexpr (KG > 1) {
    // Key groups > 0 hand their softmax states to group 0 through the
    // (now free) K/V buffers, lane for lane (the same lane of every group
    // holds the same rows and columns), and are done.
    float *merge = reinterpret_cast<float *>(kBuf(0));
    auto slot = [&](int grp) {
      return merge + ((grp - 1) * RW + rowWarp) * 32 * MERGE_PER_LANE + lane;
    };
    if (group > 0) {
      float *mine = slot(group);
      int k = 0;
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
        for (int dt = 0; dt < DT; ++dt)
#pragma unroll
          for (int e = 0; e < 4; ++e)
            mine[32 * k++] = acc[mt][dt][e];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          mine[32 * k++] = rowMax[mt][r];
          mine[32 * k++] = rowSum[mt][r];
        }
      }
    }
    __syncthreads();
    if (group > 0)
      return;
#pragma unroll 1
    for (int grp = 1; grp < KG; ++grp) {
      const float *other = slot(grp);
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        float fa[2], fb[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          const int k = MT * DT * 4 + (mt * 2 + r) * 2;
          const float mo = other[32 * k], lo = other[32 * (k + 1)];
          const float mx = fmaxf(rowMax[mt][r], mo);
          const float ref = mx == negInf() ? 0.f : mx;
          fa[r] = fastExp2(rowMax[mt][r] - ref);
          fb[r] = fastExp2(mo - ref);
          rowMax[mt][r] = mx;
          rowSum[mt][r] = rowSum[mt][r] * fa[r] + lo * fb[r];
        }
#pragma unroll
        for (int dt = 0; dt < DT; ++dt)
#pragma unroll
          for (int e = 0; e < 4; ++e)
            acc[mt][dt][e] = acc[mt][dt][e] * fa[e / 2] +
                             other[32 * ((mt * DT + dt) * 4 + e)] * fb[e / 2];
      }
    }
  }
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float l = rowSum[mt][r];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      const float inv = l > 0.f ? 1.f / l : 0.f;
      T *row = sQ + (warpRow0 + mt * 16 + g + 8 * r) * LD + 2 * t;
#pragma unroll
      for (int dt = 0; dt < DT; ++dt)
        *reinterpret_cast<uint32_t *>(row + dt * 8) =
            Ty::pack(acc[mt][dt][2 * r] * inv, acc[mt][dt][2 * r + 1] * inv);
    }
  }
  __syncwarp();
  constexpr int WR = 16 * MT; // rows per warp
  if (!GENERIC || vec) {
#pragma unroll
    for (int it = 0; it < (WR * CH + 31) / 32; ++it) {
      const int idx = lane + it * 32;
      const int r = idx / CH, c = idx % CH;
      const int i = m0 + warpRow0 + r;
      if (((WR * CH) % 32 == 0 || idx < WR * CH) && i < seqQ &&
          (!GENERIC || c * 8 < headDim))
        *reinterpret_cast<uint4 *>(gO + i * p.oStride[2] + c * 8) =
            *reinterpret_cast<const uint4 *>(sQ + (warpRow0 + r) * LD + c * 8);
    }
  } else {
    for (int idx = lane; idx < WR * DP; idx += 32) {
      const int r = idx / DP, c = idx % DP;
      const int i = m0 + warpRow0 + r;
      if (i < seqQ && c < headDim)
        gO[i * p.oStride[2] + c] = sQ[(warpRow0 + r) * LD + c];
    }
  }
  GAON_ATTENTION_MARK(4, 0);
}

/// fp32 flash attention on CUDA cores, 128 threads as 16 x 8 (ty, tx).
/// Thread (ty, tx) owns query rows ty + 16 i (i < RM) of the CTA's BM = 16 RM
/// rows: scores for keys tx + 8 j of each tile, outputs for columns tx + 8 c.
/// Runtime head dim <= DP (a multiple of 8).
template <int DP, int RM, int BN>
__device__ __forceinline__ void f32Attention(const AttentionParams &p) {
  constexpr int NT = 128;
  constexpr int BM = 16 * RM;
  constexpr int NJ = BN / 8; // keys per thread per tile
  constexpr int NC = DP / 8; // output columns per thread
  // Odd strides: threads reading down a column hit different banks.
  constexpr int LDQ = DP + 1, LDK = DP + 1, LDV = DP, LDP = BN + 1;
  static_assert(DP % 8 == 0 && BN % 8 == 0, "tile shape");
  static_assert(gaon::cuda_kernels::f32AttentionSharedBytes(DP, RM, BN) ==
                    (BM * LDQ + BN * LDK + BN * LDV + BM * LDP) * 4,
                "AttentionConfig.h disagrees with the layout below");
  static_assert(gaon::cuda_kernels::f32AttentionSharedBytes(DP, RM, BN) <=
                    gaon::cuda_kernels::kMaxAttentionSharedBytes,
                "too much shared memory for sm_86/sm_89/sm_120");

  GAON_DYNAMIC_SHARED(smem);
  float *sQ = reinterpret_cast<float *>(smem);
  float *sK = sQ + BM * LDQ;
  float *sV = sK + BN * LDK;
  float *sP = sV + BN * LDV;

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int tx = tid & 7, ty = tid >> 3;
  const int mBlock = gridDim.x - 1 - blockIdx.x;
  const int h = blockIdx.y, b = blockIdx.z;
  const int hk = h / (p.heads / p.kvHeads);
  const int m0 = mBlock * BM;
  const int headDim = p.headDim;
  const int hd8 = (headDim + 7) & ~7; // columns computed (zero padded)
  const int seqQ = p.seqQ, seqK = p.seqK, diag = seqK - seqQ;

  const float *gQ = reinterpret_cast<const float *>(p.q) + b * p.qStride[0] +
                    h * p.qStride[1];
  const float *gK = reinterpret_cast<const float *>(p.k) + b * p.kStride[0] +
                    hk * p.kStride[1];
  const float *gV = reinterpret_cast<const float *>(p.v) + b * p.vStride[0] +
                    hk * p.vStride[1];
  float *gO =
      reinterpret_cast<float *>(p.o) + b * p.oStride[0] + h * p.oStride[1];
  const float *gMask = p.mask ? reinterpret_cast<const float *>(p.mask) +
                                    b * p.maskStride[0] + h * p.maskStride[1]
                              : nullptr;

  // Rows [row0, row0 + R) x columns [0, hd8): a warp per row, lanes along
  // the row (coalesced); out-of-range elements are written as 0.
  auto loadTile = [&](float *s, int ld, const float *gsrc, int64_t stride,
                      int row0, int rows, int R) {
    for (int r = warp; r < R; r += NT / 32)
      for (int c = lane; c < hd8; c += 32) {
        const bool ok = row0 + r < rows && c < headDim;
        cpAsync4(smemAddr(s + r * ld + c),
                 ok ? gsrc + (row0 + r) * stride + c : gsrc, ok);
      }
  };

  int nEnd = seqK;
  if (p.causal)
    nEnd = min(seqK, min(m0 + BM, seqQ) + diag);
  const int nTiles = nEnd > 0 ? (nEnd + BN - 1) / BN : 0;

  loadTile(sQ, LDQ, gQ, p.qStride[2], m0, seqQ, BM);
  if (nTiles > 0)
    loadTile(sK, LDK, gK, p.kStride[2], 0, seqK, BN);
  cpAsyncCommit();

  float acc[RM][NC];
  float rowMax[RM], rowSum[RM];
#pragma unroll
  for (int i = 0; i < RM; ++i) {
#pragma unroll
    for (int c = 0; c < NC; ++c)
      acc[i][c] = 0.f;
    rowMax[i] = negInf();
    rowSum[i] = 0.f;
  }

  for (int n = 0; n < nTiles; ++n) {
    const int n0 = n * BN;
    cpAsyncWaitAll();
    __syncthreads(); // K tile n ready; every thread done with V and P of n-1
    loadTile(sV, LDV, gV, p.vStride[2], n0, seqK, BN);
    cpAsyncCommit();

    float s[RM][NJ];
#pragma unroll
    for (int i = 0; i < RM; ++i)
#pragma unroll
      for (int j = 0; j < NJ; ++j)
        s[i][j] = 0.f;
    for (int d0 = 0; d0 < hd8; d0 += 8) {
#pragma unroll
      for (int dd = 0; dd < 8; ++dd) {
        float qv[RM], kv[NJ];
#pragma unroll
        for (int i = 0; i < RM; ++i)
          qv[i] = sQ[(ty + 16 * i) * LDQ + d0 + dd];
#pragma unroll
        for (int j = 0; j < NJ; ++j)
          kv[j] = sK[(tx + 8 * j) * LDK + d0 + dd];
#pragma unroll
        for (int i = 0; i < RM; ++i)
#pragma unroll
          for (int j = 0; j < NJ; ++j)
            s[i][j] = fmaf(qv[i], kv[j], s[i][j]);
      }
    }

    const bool edge = n0 + BN > seqK || (p.causal && n0 + BN - 1 > m0 + diag);
#pragma unroll
    for (int i = 0; i < RM; ++i) {
      const int qi = m0 + ty + 16 * i;
      const float *maskRow =
          gMask && qi < seqQ ? gMask + qi * p.maskStride[2] : nullptr;
      float mx = rowMax[i];
#pragma unroll
      for (int j = 0; j < NJ; ++j) {
        const int kj = n0 + tx + 8 * j;
        float x = s[i][j] * p.scale;
        if (maskRow && kj < seqK)
          x += maskRow[kj];
        if (edge && (kj >= seqK || (p.causal && kj > qi + diag)))
          x = negInf();
        s[i][j] = x;
        mx = fmaxf(mx, x);
      }
      // The 8 lanes with the same ty hold one row (lane = 8 (ty % 4) + tx).
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 4));
      const float ref = mx == negInf() ? 0.f : mx;
      const float corr = expf(rowMax[i] - ref);
      rowMax[i] = mx;
      float sum = 0.f;
#pragma unroll
      for (int j = 0; j < NJ; ++j) {
        const float e = expf(s[i][j] - ref);
        sP[(ty + 16 * i) * LDP + tx + 8 * j] = e;
        sum += e;
      }
      rowSum[i] = rowSum[i] * corr + sum;
#pragma unroll
      for (int c = 0; c < NC; ++c)
        acc[i][c] *= corr;
    }

    cpAsyncWaitAll();
    __syncthreads(); // V tile n and P ready; every thread done with K tile n
    if (n + 1 < nTiles)
      loadTile(sK, LDK, gK, p.kStride[2], n0 + BN, seqK, BN);
    cpAsyncCommit();

    const int keys = min(BN, seqK - n0); // P is 0 past the last key
    for (int kk = 0; kk < keys; ++kk) {
      float pv[RM];
#pragma unroll
      for (int i = 0; i < RM; ++i)
        pv[i] = sP[(ty + 16 * i) * LDP + kk];
#pragma unroll
      for (int c = 0; c < NC; ++c) {
        if (8 * c < hd8) {
          const float vv = sV[kk * LDV + tx + 8 * c];
#pragma unroll
          for (int i = 0; i < RM; ++i)
            acc[i][c] = fmaf(pv[i], vv, acc[i][c]);
        }
      }
    }
  }
  cpAsyncWaitAll(); // outstanding loads must not land after the CTA exits

#pragma unroll
  for (int i = 0; i < RM; ++i) {
    float l = rowSum[i];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    l += __shfl_xor_sync(0xffffffffu, l, 4);
    const float inv = l > 0.f ? 1.f / l : 0.f;
    const int qi = m0 + ty + 16 * i;
    if (qi < seqQ) {
#pragma unroll
      for (int c = 0; c < NC; ++c) {
        const int col = tx + 8 * c;
        if (col < headDim)
          gO[qi * p.oStride[2] + col] = acc[i][c] * inv;
      }
    }
  }
}

} // namespace

// Entry points, from AttentionVariants.def (or, for the tuning fatbin that
// only the bench loads, AttentionTuning.def).
#define GAON_ATTENTION_TC(NAME, DTYPE, DP, BM, BN, NW, QREG, GENERIC, MINB)    \
  extern "C" __global__ void __launch_bounds__(NW * 32, MINB)                  \
      NAME(const AttentionParams p) {                                          \
    tcAttention<TcScalar<AttentionDType::DTYPE>, DP, BM, BN, NW, QREG != 0,    \
                GENERIC != 0>(p);                                              \
  }
#define GAON_ATTENTION_F32(NAME, DP, RM, BN)                                   \
  extern "C" __global__ void __launch_bounds__(128)                            \
      NAME(const AttentionParams p) {                                          \
    f32Attention<DP, RM, BN>(p);                                               \
  }
#ifdef GAON_ATTENTION_TUNING
#include "AttentionTuning.def"
#else
#include "AttentionVariants.def"
#endif
