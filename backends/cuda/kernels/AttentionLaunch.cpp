//===- AttentionLaunch.cpp - Picking an attention kernel and its launch ---===//
//
// Host side of attention.cu: which entry point of the embedded fatbin runs a
// given problem, with which grid, block and dynamic shared memory. The
// variants come from AttentionVariants.def, the same list attention.cu
// expands into kernels.
//
//===----------------------------------------------------------------------===//

#include "gaon/cuda_kernels/Attention.h"

#include "AttentionConfig.h"

#include <cstdint>

// Defined in the generated attention_fatbin.cpp (cmake/EmbedFatbin.cmake).
extern const unsigned char gaonAttentionFatbin[];
extern const uint64_t gaonAttentionFatbinSize;

namespace gaon::cuda_kernels {
namespace {

struct Variant {
  const char *name;
  AttentionDType dtype;
  int headDim;  ///< exact head dim, or the largest one when generic
  bool generic; ///< any head dim <= headDim, any strides
  int rows;     ///< query rows per CTA
  int threads;
  uint32_t sharedBytes;
};

constexpr Variant kVariants[] = {
#define GAON_ATTENTION_TC(NAME, DTYPE, DP, BM, BN, NW, QREG, GENERIC, MINB)    \
  {#NAME,                                                                      \
   AttentionDType::DTYPE,                                                      \
   DP,                                                                         \
   GENERIC != 0,                                                               \
   BM,                                                                         \
   NW * 32,                                                                    \
   tcAttentionSharedBytes(DP, BM, BN, NW)},
#define GAON_ATTENTION_F32(NAME, DP, RM, BN)                                   \
  {#NAME,                                                                      \
   AttentionDType::F32,                                                        \
   DP,                                                                         \
   true,                                                                       \
   16 * RM,                                                                    \
   128,                                                                        \
   f32AttentionSharedBytes(DP, RM, BN)},
#include "AttentionVariants.def"
#undef GAON_ATTENTION_TC
#undef GAON_ATTENTION_F32
};

/// The specialized kernels move rows in 16-byte pieces (cp.async, vector
/// stores); the generic ones check this themselves (rowsAre16ByteAligned in
/// attention.cu).
bool rowsAre16ByteAligned(const AttentionParams &p) {
  if ((p.q | p.k | p.v | p.o) & 15)
    return false;
  for (int i = 0; i < 3; ++i)
    if ((p.qStride[i] | p.kStride[i] | p.vStride[i] | p.oStride[i]) & 7)
      return false;
  return p.headDim % 8 == 0;
}

/// Without an SM count, up to this many query rows the generic kernels
/// (64-row CTAs) waste less work than the 128-row specialized ones.
constexpr int kShortQuery = 64;

/// The tallest query tile for causal attention.
constexpr int kCausalRows = 64;

int64_t ctas(const AttentionParams &p, const Variant &v) {
  return (int64_t(p.seqQ) + v.rows - 1) / v.rows * p.heads * p.batch;
}

const Variant *pick(const AttentionParams &p, AttentionDType dtype,
                    int multiprocessors) {
  // kVariants lists each dtype's specialized variants first, from the
  // largest query tile down, then the generic ones from the smallest head
  // dim up.
  const bool specializable =
      rowsAre16ByteAligned(p) && (multiprocessors > 0 || p.seqQ > kShortQuery);
  const Variant *chosen = nullptr;
  if (specializable)
    for (const Variant &v : kVariants) {
      if (v.dtype != dtype || v.generic || p.headDim != v.headDim)
        continue;
      // Under a causal mask the tiles on the diagonal compute half their
      // scores for nothing, the more the taller they are: 64 rows at most
      // (16 x 12 x 512 causal on the H100: 55.4 us with 128-row tiles, 48.1
      // with 64).
      if (p.causal && v.rows > kCausalRows)
        continue;
      // Larger tiles share K/V loads among more rows, smaller ones fill more
      // SMs: the largest that gives every SM two CTAs, else the smallest.
      // (One wave was not enough: 1x12x1024 causal ran 192 CTAs of 64 rows
      // in 42.8 us, 384 of 32 rows with split keys in 34.5 us on the H100.)
      chosen = &v;
      if (ctas(p, v) >= 2 * int64_t(multiprocessors))
        return chosen;
    }
  if (chosen)
    return chosen;
  for (const Variant &v : kVariants)
    if (v.dtype == dtype && v.generic && p.headDim <= v.headDim)
      return &v;
  return nullptr;
}

} // namespace

AttentionLaunch chooseAttentionLaunch(const AttentionParams &params,
                                      AttentionDType dtype, int smMajor,
                                      int smMinor, int multiprocessors,
                                      const char **whyNot) {
  (void)smMinor; // every sm_8x/9x/10x/12x part runs every variant
  AttentionLaunch none{nullptr, {0, 0, 0}, {0, 0, 0}, 0};
  auto fail = [&](const char *why) {
    if (whyNot)
      *whyNot = why;
    return none;
  };
  if (smMajor < 8)
    return fail("the attention kernels need compute capability 8.0 or newer "
                "(bf16 mma.sync, cp.async)");
  if (dtype != AttentionDType::F32 && dtype != AttentionDType::F16 &&
      dtype != AttentionDType::BF16)
    return fail("unknown attention dtype");
  if (params.batch <= 0 || params.heads <= 0 || params.kvHeads <= 0 ||
      params.seqQ <= 0 || params.seqK < 0 || params.headDim <= 0)
    return fail("attention shape has a zero or negative dimension (batch, "
                "heads, kvHeads, seqQ and headDim must be > 0)");
  if (params.heads % params.kvHeads != 0)
    return fail("attention heads must be a multiple of kvHeads (grouped-query "
                "attention)");
  if (params.headDim > 256)
    return fail("attention head dim > 256 is not supported");
  if (params.batch > 65535 || params.heads > 65535)
    return fail("attention batch or heads > 65535 (grid limit)");
  if (!params.q || !params.k || !params.v || !params.o)
    return fail("attention q, k, v or o is a null pointer");

  const Variant *v = pick(params, dtype, multiprocessors);
  if (!v) // unreachable while the .def covers head dims up to 256
    return fail("no attention kernel variant for this head dim");
  AttentionLaunch launch;
  launch.kernel = v->name;
  launch.grid[0] = static_cast<uint32_t>((params.seqQ + v->rows - 1) / v->rows);
  launch.grid[1] = static_cast<uint32_t>(params.heads);
  launch.grid[2] = static_cast<uint32_t>(params.batch);
  launch.block[0] = static_cast<uint32_t>(v->threads);
  launch.block[1] = 1;
  launch.block[2] = 1;
  launch.sharedBytes = v->sharedBytes;
  if (whyNot)
    *whyNot = nullptr;
  return launch;
}

const unsigned char *attentionFatbin() { return gaonAttentionFatbin; }

uint64_t attentionFatbinSize() { return gaonAttentionFatbinSize; }

} // namespace gaon::cuda_kernels
