// Static memory planner: places tensors with known live ranges in one arena.
//
// Input: per tensor a byte size and a live range [firstOp, lastOp] (the op
// that defines it and the last op that reads it, in execution order), plus
// optional in-place hints ("this tensor may reuse the storage of tensor X",
// legal for reshapes and same-size elementwise ops when X dies at the op
// that defines this tensor). Output: one offset per tensor.
//
// Method: in-place hints merge tensors into groups first; groups are then
// placed by several greedy best-fit orders (largest first as TFLite's
// "greedy by size", then by size x lifetime, by lifetime, and by definition
// time); the smallest arena wins. The lower bound is the largest number of
// bytes live at one op.
#ifndef GAON_RUNTIME_PLANNER_H
#define GAON_RUNTIME_PLANNER_H

#include "gaon/runtime/status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace gaon::rt {

struct PlannerTensor {
  uint64_t size = 0;
  uint32_t firstOp = 0;
  uint32_t lastOp = 0;
  // Index of a tensor whose storage this one may take over in place, or -1.
  int32_t mayAliasInput = -1;
};

struct PlannerOptions {
  uint64_t alignment = 64; // every offset and size is rounded to this
  bool allowInPlace = true;
};

struct MemoryPlan {
  std::vector<uint64_t> offsets; // per tensor
  // Per tensor, the tensor whose storage it shares (itself if none).
  std::vector<uint32_t> aliasGroup;
  uint64_t arenaSize = 0;
  uint64_t lowerBound = 0; // max bytes live at one op (after in-place merges)
  uint32_t inPlaceReuses = 0;
  std::string strategy; // the ordering that won

  double ratio() const {
    return lowerBound ? double(arenaSize) / double(lowerBound) : 1.0;
  }
};

Result<MemoryPlan> planMemory(const std::vector<PlannerTensor> &tensors,
                              const PlannerOptions &options = {});

// Checks that no two tensors that are live at the same op overlap in the
// arena, except legal in-place pairs, and that everything fits the arena.
Status verifyMemoryPlan(const std::vector<PlannerTensor> &tensors,
                        const MemoryPlan &plan);

} // namespace gaon::rt

#endif // GAON_RUNTIME_PLANNER_H
