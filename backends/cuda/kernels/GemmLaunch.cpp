//===- GemmLaunch.cpp - Kernel and launch shape of a split-K GEMM ---------===//

#include "GemmConfig.h"
#include "gaon/cuda_kernels/Gemm.h"

#include <cstddef>

// Defined in the generated gemm_fatbin.cpp (cmake/EmbedFatbin.cmake).
extern const unsigned char gaonGemmFatbin[];
extern const uint64_t gaonGemmFatbinSize;

namespace gaon::cuda_kernels {
namespace {

struct Tile {
  int bm, bn, warps;
  /// Kernel names by [dtype bf16][f32 out][B transposed].
  const char *names[2][2][2];
};

#define GAON_GEMM_NAME(IN, OUT, LAYOUT, BM, BN)                                \
  "gaon_gemm_" #IN "_" #OUT "_" #LAYOUT "_m" #BM "n" #BN
#define GAON_GEMM_TILE(INDEX, BM, BN, WARPS_M, WARPS_N)                        \
  {BM,                                                                         \
   BN,                                                                         \
   WARPS_M * WARPS_N,                                                          \
   {{{GAON_GEMM_NAME(f16, o16, nn, BM, BN),                                    \
      GAON_GEMM_NAME(f16, o16, nt, BM, BN)},                                   \
     {GAON_GEMM_NAME(f16, o32, nn, BM, BN),                                    \
      GAON_GEMM_NAME(f16, o32, nt, BM, BN)}},                                  \
    {{GAON_GEMM_NAME(bf16, o16, nn, BM, BN),                                   \
      GAON_GEMM_NAME(bf16, o16, nt, BM, BN)},                                  \
     {GAON_GEMM_NAME(bf16, o32, nn, BM, BN),                                   \
      GAON_GEMM_NAME(bf16, o32, nt, BM, BN)}}}},
constexpr Tile kTiles[] = {
#include "GemmVariants.def"
};
#undef GAON_GEMM_TILE
#undef GAON_GEMM_NAME

constexpr int kTileCount = static_cast<int>(sizeof(kTiles) / sizeof(kTiles[0]));

bool multipleOf8(int64_t v) { return v % 8 == 0; }

} // namespace

int gemmTileCount() { return kTileCount; }

const unsigned char *gemmFatbin() { return gaonGemmFatbin; }

uint64_t gemmFatbinSize() { return gaonGemmFatbinSize; }

GemmLaunch chooseGemmLaunch(GemmParams &p, const GemmShape &shape, int tile,
                            int splits, const char **whyNot) {
  GemmLaunch launch;
  auto reject = [&](const char *why) {
    if (whyNot)
      *whyNot = why;
    return GemmLaunch{};
  };
  if (tile < 0 || tile >= kTileCount)
    return reject("no such tile shape");
  if (p.m <= 0 || p.n <= 0 || p.k <= 0)
    return reject("empty problem");
  if (splits < 1 || splits > 64)
    return reject("splits must be in [1, 64]");
  if (!multipleOf8(p.n) || !multipleOf8(p.k))
    return reject("N and K must be multiples of 8");
  if (!multipleOf8(p.lda) || !multipleOf8(p.ldb) || !multipleOf8(p.ldd) ||
      (p.beta != 0.0f && !multipleOf8(p.ldc)))
    return reject("row strides must be multiples of 8 elements");
  if ((p.a | p.b | p.d | (p.beta != 0.0f ? p.c : 0)) & 15)
    return reject("operands must be 16-byte aligned");
  const auto epilogue = static_cast<GemmEpilogue>(p.epilogue);
  const bool bias = epilogue == GemmEpilogue::Bias ||
                    epilogue == GemmEpilogue::BiasGelu ||
                    epilogue == GemmEpilogue::BiasRelu;
  if (p.epilogue < 0 || p.epilogue > 5)
    return reject("unknown epilogue");
  if (bias && (!p.bias || (p.bias & 3)))
    return reject("the bias must be 4-byte aligned");
  if (p.beta != 0.0f && !p.c)
    return reject("beta != 0 needs C");
  // Slices are whole pipeline stages, so every slice boundary is a
  // multiple of 8 and no slice is empty.
  const int64_t stages = (p.k + kGemmBK - 1) / kGemmBK;
  if (splits > stages)
    return reject("more K slices than pipeline stages");
  const int64_t slice = (stages + splits - 1) / splits * kGemmBK;
  if ((splits - 1) * slice >= p.k)
    return reject("the last K slice would be empty");
  p.kSlice = static_cast<int32_t>(slice);

  const Tile &t = kTiles[tile];
  const int64_t tilesN = (p.n + t.bn - 1) / t.bn;
  const int64_t tilesM = (p.m + t.bm - 1) / t.bm;
  if (tilesN > 0x7fffffff || tilesM > 65535)
    return reject("too many tiles");
  launch.kernel =
      t.names[shape.dtype == GemmDType::BF16][shape.f32Out][shape.bTransposed];
  launch.grid[0] = static_cast<uint32_t>(tilesN);
  launch.grid[1] = static_cast<uint32_t>(tilesM);
  launch.grid[2] = static_cast<uint32_t>(splits);
  launch.block[0] = static_cast<uint32_t>(t.warps * 32);
  launch.sharedBytes = gemmSharedBytes(t.bm, t.bn, shape.bTransposed);
  if (splits > 1) {
    launch.workspaceBytes = static_cast<uint64_t>(splits) * tilesM * tilesN *
                            t.bm * t.bn * sizeof(float);
    launch.counters = static_cast<uint32_t>(tilesM * tilesN);
  }
  return launch;
}

} // namespace gaon::cuda_kernels
