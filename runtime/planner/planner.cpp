// Memory planner: in-place grouping, then best-fit placement under several
// greedy orders. See gaon/runtime/planner.h.
#include "gaon/runtime/planner.h"

#include <algorithm>
#include <functional>
#include <map>

namespace gaon::rt {
namespace {

struct Group {
  uint64_t size = 0; // aligned, max over members
  uint32_t firstOp = 0;
  uint32_t lastOp = 0;
  uint32_t tail = 0; // the member that died last; the next alias must use it
};

struct Placed {
  uint64_t offset;
  uint64_t end;
};

uint64_t alignUp(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

bool livesOverlap(const Group &a, const Group &b) {
  return a.firstOp <= b.lastOp && b.firstOp <= a.lastOp;
}

// Best fit: the smallest gap between already-placed groups live at the same
// time that holds `group`; else right after the highest of them.
std::vector<uint64_t> placeInOrder(const std::vector<Group> &groups,
                                   const std::vector<uint32_t> &order,
                                   uint64_t *arenaSize) {
  std::vector<uint64_t> offsets(groups.size(), 0);
  std::vector<uint32_t> placed;
  placed.reserve(groups.size());
  std::vector<Placed> conflicts;
  *arenaSize = 0;
  for (uint32_t index : order) {
    const Group &group = groups[index];
    conflicts.clear();
    for (uint32_t other : placed)
      if (livesOverlap(group, groups[other]) && groups[other].size)
        conflicts.push_back(
            {offsets[other], offsets[other] + groups[other].size});
    std::sort(
        conflicts.begin(), conflicts.end(),
        [](const Placed &a, const Placed &b) { return a.offset < b.offset; });
    uint64_t cursor = 0, best = UINT64_MAX, bestGap = UINT64_MAX;
    for (const Placed &conflict : conflicts) {
      if (conflict.offset > cursor) {
        uint64_t gap = conflict.offset - cursor;
        if (gap >= group.size && gap < bestGap) {
          bestGap = gap;
          best = cursor;
        }
      }
      cursor = std::max(cursor, conflict.end);
    }
    offsets[index] = best != UINT64_MAX ? best : cursor;
    *arenaSize = std::max(*arenaSize, offsets[index] + group.size);
    placed.push_back(index);
  }
  return offsets;
}

uint64_t computeLowerBound(const std::vector<Group> &groups) {
  // Sweep over op boundaries: +size at firstOp, -size after lastOp.
  std::map<uint64_t, int64_t> deltas;
  for (const Group &group : groups) {
    deltas[group.firstOp] += static_cast<int64_t>(group.size);
    deltas[uint64_t(group.lastOp) + 1] -= static_cast<int64_t>(group.size);
  }
  int64_t live = 0, peak = 0;
  for (const auto &delta : deltas) {
    live += delta.second;
    peak = std::max(peak, live);
  }
  return static_cast<uint64_t>(peak);
}

} // namespace

Result<MemoryPlan> planMemory(const std::vector<PlannerTensor> &tensors,
                              const PlannerOptions &options) {
  uint64_t alignment = std::max<uint64_t>(1, options.alignment);
  if (alignment & (alignment - 1))
    return errorStatus(StatusCode::InvalidArgument,
                       "planner alignment must be a power of two");
  const uint32_t count = static_cast<uint32_t>(tensors.size());
  for (uint32_t i = 0; i < count; ++i) {
    const PlannerTensor &tensor = tensors[i];
    if (tensor.firstOp > tensor.lastOp)
      return errorStatus(StatusCode::InvalidArgument,
                         "tensor " + std::to_string(i) +
                             " has a live range that ends before it starts");
    if (tensor.size > UINT64_MAX / 4)
      return errorStatus(StatusCode::InvalidArgument,
                         "tensor " + std::to_string(i) + " is too large");
    if (tensor.mayAliasInput >= static_cast<int64_t>(count) ||
        tensor.mayAliasInput == static_cast<int32_t>(i))
      return errorStatus(StatusCode::InvalidArgument,
                         "tensor " + std::to_string(i) +
                             " has an invalid in-place hint");
  }

  MemoryPlan plan;
  plan.aliasGroup.resize(count);
  std::vector<int32_t> groupOf(count, -1);
  std::vector<Group> groups;

  // Visit tensors in definition order so that a hint's source already has
  // its group.
  std::vector<uint32_t> byDefinition(count);
  for (uint32_t i = 0; i < count; ++i)
    byDefinition[i] = i;
  std::stable_sort(byDefinition.begin(), byDefinition.end(),
                   [&](uint32_t a, uint32_t b) {
                     return tensors[a].firstOp < tensors[b].firstOp;
                   });
  std::vector<uint32_t> representative;
  for (uint32_t i : byDefinition) {
    const PlannerTensor &tensor = tensors[i];
    uint64_t size = alignUp(tensor.size, alignment);
    int32_t source = tensor.mayAliasInput;
    if (options.allowInPlace && source >= 0 && groupOf[source] >= 0) {
      Group &group = groups[groupOf[source]];
      // Legal only if the source dies at the op that defines this tensor,
      // nothing else in the group outlives it, and the new value fits.
      bool legal = tensors[source].lastOp == tensor.firstOp &&
                   group.tail == static_cast<uint32_t>(source) &&
                   group.lastOp == tensors[source].lastOp && size <= group.size;
      if (legal) {
        groupOf[i] = groupOf[source];
        group.lastOp = std::max(group.lastOp, tensor.lastOp);
        group.tail = i;
        ++plan.inPlaceReuses;
        continue;
      }
    }
    groupOf[i] = static_cast<int32_t>(groups.size());
    groups.push_back({size, tensor.firstOp, tensor.lastOp, i});
    representative.push_back(i);
  }

  plan.lowerBound = computeLowerBound(groups);

  using Less = std::function<bool(uint32_t, uint32_t)>;
  auto lifetime = [&](uint32_t g) {
    return uint64_t(groups[g].lastOp - groups[g].firstOp) + 1;
  };
  const std::vector<std::pair<std::string, Less>> orders = {
      {"greedy-by-size",
       [&](uint32_t a, uint32_t b) {
         if (groups[a].size != groups[b].size)
           return groups[a].size > groups[b].size;
         return groups[a].firstOp < groups[b].firstOp;
       }},
      {"greedy-by-area",
       [&](uint32_t a, uint32_t b) {
         // Saturating enough: sizes are < 2^62 and lifetimes < 2^32.
         long double areaA = (long double)groups[a].size * lifetime(a);
         long double areaB = (long double)groups[b].size * lifetime(b);
         if (areaA != areaB)
           return areaA > areaB;
         return a < b;
       }},
      {"greedy-by-lifetime",
       [&](uint32_t a, uint32_t b) {
         if (lifetime(a) != lifetime(b))
           return lifetime(a) > lifetime(b);
         return groups[a].size > groups[b].size;
       }},
      {"greedy-by-definition",
       [&](uint32_t a, uint32_t b) {
         if (groups[a].firstOp != groups[b].firstOp)
           return groups[a].firstOp < groups[b].firstOp;
         return groups[a].size > groups[b].size;
       }},
  };

  std::vector<uint64_t> bestOffsets;
  uint64_t bestArena = UINT64_MAX;
  for (const auto &order : orders) {
    std::vector<uint32_t> sequence(groups.size());
    for (uint32_t g = 0; g < groups.size(); ++g)
      sequence[g] = g;
    std::stable_sort(sequence.begin(), sequence.end(), order.second);
    uint64_t arena = 0;
    std::vector<uint64_t> offsets = placeInOrder(groups, sequence, &arena);
    if (arena < bestArena) {
      bestArena = arena;
      bestOffsets = std::move(offsets);
      plan.strategy = order.first;
    }
    if (bestArena == plan.lowerBound)
      break; // cannot do better
  }
  if (groups.empty())
    bestArena = 0;

  plan.arenaSize = bestArena;
  plan.offsets.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    plan.offsets[i] = bestOffsets.empty() ? 0 : bestOffsets[groupOf[i]];
    plan.aliasGroup[i] = representative[groupOf[i]];
  }
  return plan;
}

Status verifyMemoryPlan(const std::vector<PlannerTensor> &tensors,
                        const MemoryPlan &plan) {
  const size_t count = tensors.size();
  if (plan.offsets.size() != count || plan.aliasGroup.size() != count)
    return errorStatus(StatusCode::Internal, "plan size mismatch");
  for (size_t i = 0; i < count; ++i)
    if (plan.offsets[i] + tensors[i].size > plan.arenaSize)
      return errorStatus(StatusCode::Internal,
                         "tensor " + std::to_string(i) + " exceeds the arena");
  for (size_t i = 0; i < count; ++i) {
    for (size_t j = i + 1; j < count; ++j) {
      const PlannerTensor &a = tensors[i], &b = tensors[j];
      if (!a.size || !b.size)
        continue;
      bool liveTogether = a.firstOp <= b.lastOp && b.firstOp <= a.lastOp;
      bool overlap = plan.offsets[i] < plan.offsets[j] + b.size &&
                     plan.offsets[j] < plan.offsets[i] + a.size;
      if (!liveTogether || !overlap)
        continue;
      // Sharing is legal only for members of one in-place group, which
      // touch at exactly one op (the hand-over).
      bool sameGroup = plan.aliasGroup[i] == plan.aliasGroup[j];
      bool handOver = a.lastOp == b.firstOp || b.lastOp == a.firstOp;
      if (sameGroup && handOver)
        continue;
      return errorStatus(StatusCode::Internal,
                         "tensors " + std::to_string(i) + " and " +
                             std::to_string(j) +
                             " are live together and overlap");
    }
  }
  return Status::ok();
}

} // namespace gaon::rt
