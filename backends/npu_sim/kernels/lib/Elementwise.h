//===- Elementwise.h - Broadcasting elementwise engine -----------*- C++
//-*-===//
#ifndef GAON_NPU_KERNELS_ELEMENTWISE_H
#define GAON_NPU_KERNELS_ELEMENTWISE_H

#include "Common.h"

namespace gaon::npu_kernels::detail {

struct EwInput {
  Tensor tensor;
  /// The body accepts this operand as a rows x 1 column (Broadcast::Col)
  /// when it is constant along the last dim; otherwise such an operand is
  /// expanded to a full tile by the DMA.
  bool allowCol = false;
};

/// One tile as the body sees it: inputs are rows x cols operands (stride 0
/// when one row repeats) or, where isCol, rows x 1 columns (stride 0 when one
/// value repeats); `out` is the packed output tile; `scratch` a fp32
/// rows x cols tile per requested scratch (pitch cols * 4).
struct EwTile {
  uint32_t rows = 0, cols = 0;
  std::vector<VecOperand> in;
  std::vector<bool> isCol;
  VecOperand out;
  std::vector<VecOperand> scratch;
};
using EwBody = std::function<void(CoreBuilder &, const EwTile &)>;

/// Tiles `out` (rows of its coalesced shape, split over all cores),
/// double-buffers the operand loads and the stores against the body.
void emitElementwise(const Ctx &ctx, const std::string &kernel,
                     const std::vector<EwInput> &ins, const Tensor &out,
                     int scratchTiles, const EwBody &body);

} // namespace gaon::npu_kernels::detail

#endif
