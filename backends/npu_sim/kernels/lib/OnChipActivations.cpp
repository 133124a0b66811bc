//===- OnChipActivations.cpp - Activations handed over in scratchpad ------===//
//
// Kernels exchange activations through DRAM: each stores its output there
// and the next ones load it back. On a chip whose DMA can multicast, a value
// that one kernel stores with plain DMAs and later kernels only load can stay
// on chip instead: the producer's stores become multicasts into the same
// free scratchpad range of every core, and every load becomes a local
// scratchpad copy. The fences between kernels already order the stores
// before the loads, so this is a rewrite of addresses, decided on the whole
// stream once every kernel is known.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

#include <algorithm>
#include <map>

namespace gaon::npu_kernels {

using namespace npu_sim;

namespace {

/// Disjoint, merged byte intervals [first, second).
class Intervals {
public:
  void add(uint64_t lo, uint64_t hi) {
    if (lo >= hi)
      return;
    auto it = spans.upper_bound(lo);
    if (it != spans.begin() && std::prev(it)->second >= lo)
      --it;
    while (it != spans.end() && it->first <= hi) {
      lo = std::min(lo, it->first);
      hi = std::max(hi, it->second);
      it = spans.erase(it);
    }
    spans.emplace(lo, hi);
  }
  void add(const Intervals &other) {
    for (auto [lo, hi] : other.spans)
      add(lo, hi);
  }
  bool intersects(uint64_t lo, uint64_t hi) const {
    auto it = spans.upper_bound(lo);
    if (it != spans.begin() && std::prev(it)->second > lo)
      return true;
    return it != spans.end() && it->first < hi;
  }
  const std::map<uint64_t, uint64_t> &all() const { return spans; }

private:
  std::map<uint64_t, uint64_t> spans;
};

/// The bytes a strided DMA side touches.
void addSegments(Intervals &set, uint64_t addr, uint32_t rowBytes,
                 uint32_t rows, uint32_t planes, uint64_t rowStride,
                 uint64_t planeStride) {
  for (uint32_t p = 0; p < planes; ++p)
    for (uint32_t r = 0; r < rows; ++r) {
      uint64_t at = addr + p * planeStride + r * rowStride;
      set.add(at, at + rowBytes);
    }
}

/// First and one-past-last byte of a strided pattern.
std::pair<uint64_t, uint64_t> hullOf(uint64_t addr, uint64_t rowBytes,
                                     uint64_t rows, uint64_t planes,
                                     uint64_t rowStride, uint64_t planeStride) {
  if (!rowBytes || !rows || !planes)
    return {addr, addr};
  return {addr, addr + (planes - 1) * planeStride + (rows - 1) * rowStride +
                    rowBytes};
}

/// One DRAM access of an instruction inside the arena.
struct Access {
  unsigned core = 0;
  size_t index = 0;   ///< In the core's program.
  bool write = false; ///< Else a read.
  /// A plain DMA side or a gather's table, inside the arena; anything else
  /// (a gather writing DRAM) pins the bytes it touches to DRAM.
  bool movable = false;
  bool moved = false;      ///< Rewritten to scratchpad already.
  uint64_t lo = 0, hi = 0; ///< Hull of the bytes.
  Intervals bytes;

  bool meets(uint64_t from, uint64_t to) const {
    return !moved && hi > from && lo < to;
  }
  /// Movable as part of the value [from, to).
  bool movableWithin(uint64_t from, uint64_t to) const {
    return movable && lo >= from && hi <= to;
  }
};

/// Scratchpad bytes an instruction touches on its own core (hulls), and
/// on every core a multicast writes.
void addSpmUse(const Instr &instr, unsigned core, unsigned cores,
               std::vector<Intervals> &use) {
  auto side = [&](const MemRef &ref, std::pair<uint64_t, uint64_t> hull,
                  unsigned group) {
    if (ref.space != MemSpace::Scratchpad)
      return;
    for (unsigned c = ref.core; c < std::min<unsigned>(cores, ref.core + group);
         ++c)
      use[c].add(hull.first, hull.second);
  };
  auto operand = [&](const VecOperand &v, uint64_t rows, uint64_t cols) {
    if (!rows || !cols)
      return;
    use[core].add(v.addr,
                  v.addr + (rows - 1) * v.stride + cols * dtypeBytes(v.type));
  };
  if (const auto *d = std::get_if<DmaCmd>(&instr.cmd)) {
    side(d->src,
         hullOf(d->src.addr, d->rowBytes, d->rows, d->planes, d->srcRowStride,
                d->srcPlaneStride),
         1);
    side(d->dst,
         hullOf(d->dst.addr, d->rowBytes, d->rows, d->planes, d->dstRowStride,
                d->dstPlaneStride),
         std::max<unsigned>(d->multicast, 1));
  } else if (const auto *g = std::get_if<GatherCmd>(&instr.cmd)) {
    side(
        g->table,
        hullOf(g->table.addr, g->rowBytes, g->numRows, 1, g->tableRowStride, 0),
        1);
    side(g->indices,
         {g->indices.addr,
          g->indices.addr + uint64_t(g->count) * dtypeBytes(g->indexType)},
         1);
    side(g->dst,
         hullOf(g->dst.addr, g->rowBytes, g->count, 1, g->dstRowStride, 0), 1);
  } else if (const auto *m = std::get_if<MatmulCmd>(&instr.cmd)) {
    // Row strides bound every operand: rows x ld bytes.
    auto rowsOf = [&](uint64_t at, uint64_t rows, uint64_t ld) {
      if (rows)
        use[core].add(at, at + rows * ld);
    };
    rowsOf(m->a, m->m, m->lda);
    rowsOf(m->b, m->transposeB ? m->n : m->k, m->ldb);
    rowsOf(m->c, m->m, m->ldc);
  } else if (const auto *v = std::get_if<VectorCmd>(&instr.cmd)) {
    bool reduction = isReductionVecOp(v->op);
    operand(v->dst, v->rows, reduction ? 1 : v->cols);
    operand(v->a, v->rows, v->cols);
    if (vecOpArity(v->op) >= 2)
      operand(v->b, v->rows, v->cols);
    if (vecOpArity(v->op) >= 3)
      operand(v->c, v->rows, v->cols);
  }
}

/// The emitter's stream, what it knows of each kernel, and each kernel's
/// arena accesses and scratchpad use, read off its instructions once.
class Emitted {
public:
  Emitted(Stream &stream, const ChipDesc &chip,
          const std::vector<StreamEmitter::KernelRecord> &records,
          std::vector<StreamEmitter::PrefetchRegion> &regions, uint64_t arenaLo,
          uint64_t arenaHi)
      : stream(stream), chip(chip), regions(regions),
        arenaAccesses(records.size()), spmUsed(records.size()) {
    unsigned cores =
        std::min<unsigned>(chip.cores, unsigned(stream.cores.size()));
    for (size_t k = 0; k < records.size(); ++k) {
      std::vector<Intervals> use(chip.cores);
      for (unsigned core = 0; core < cores; ++core) {
        size_t end = k + 1 < records.size() ? records[k + 1].start[core]
                                            : stream.cores[core].size();
        for (size_t i = records[k].start[core]; i < end; ++i) {
          addSpmUse(stream.cores[core][i], core, chip.cores, use);
          noteArena(k, core, i, arenaLo, arenaHi);
        }
      }
      for (const Intervals &u : use)
        spmUsed[k].add(u);
    }
  }

  size_t kernels() const { return arenaAccesses.size(); }

  /// The connected ranges kernel p writes with plain DMAs only, inside the
  /// arena.
  std::vector<std::pair<uint64_t, uint64_t>> written(size_t p) const {
    Intervals movable, pinned;
    for (const Access &a : arenaAccesses[p])
      if (a.write && !a.moved)
        (a.movable ? movable : pinned).add(a.bytes);
    std::vector<std::pair<uint64_t, uint64_t>> out;
    for (auto [from, to] : movable.all())
      if (!pinned.intersects(from, to))
        out.push_back({from, to});
    return out;
  }

  /// The last kernel that reads [lo, hi) (written whole by kernel p) before
  /// any kernel writes it again; none when p itself reads it, when a read
  /// is not a plain DMA or gather inside it, or when an in-place kernel
  /// reads and writes it.
  std::optional<size_t> lastReader(size_t p, uint64_t lo, uint64_t hi) const {
    for (const Access &a : arenaAccesses[p])
      if (!a.write && a.meets(lo, hi))
        return std::nullopt;
    std::optional<size_t> last;
    for (size_t k = p + 1; k < kernels(); ++k) {
      bool writes = false, reads = false;
      for (const Access &a : arenaAccesses[k]) {
        if (!a.meets(lo, hi) || !a.bytes.intersects(lo, hi))
          continue;
        if (a.write) {
          writes = true;
        } else {
          reads = true;
          if (!a.movableWithin(lo, hi))
            return std::nullopt;
        }
      }
      if (writes && reads)
        return std::nullopt;
      if (writes)
        break;
      if (reads)
        last = k;
    }
    return last;
  }

  /// Moves the value [lo, hi) that kernel p writes and kernels up to `last`
  /// read into the highest scratchpad range free on every core from p to
  /// `last`; false, changing nothing, when none is.
  bool forward(size_t p, size_t last, uint64_t lo, uint64_t hi) {
    uint64_t size = (hi - lo + 63) / 64 * 64;
    Intervals busy;
    for (size_t k = p; k <= last; ++k)
      busy.add(spmUsed[k]);
    for (const StreamEmitter::PrefetchRegion &r : regions)
      if (r.host <= last && p <= r.consumer)
        busy.add(r.lo, r.hi);
    std::optional<uint64_t> at;
    uint64_t top = chip.scratchpad.bytes / 64 * 64;
    const auto &spans = busy.all();
    for (auto it = spans.rbegin();; ++it) {
      uint64_t floor = it == spans.rend() ? 0 : (it->second + 63) / 64 * 64;
      if (top >= floor && top - floor >= size) {
        at = top - size;
        break;
      }
      if (it == spans.rend())
        break;
      top = it->first / 64 * 64;
    }
    if (!at)
      return false;
    // Stores become multicasts into every core; loads read their own core's
    // copy. (Done after the last kernel: lowering the kernels' DRAM
    // estimates as each value dies, so that later prefetches would use the
    // time, put more loads into attention and was 1-3% slower.)
    for (size_t k = p; k <= last; ++k)
      for (Access &a : arenaAccesses[k]) {
        if (!a.meets(lo, hi) || !a.bytes.intersects(lo, hi))
          continue;
        Instr &instr = stream.cores[a.core][a.index];
        if (auto *d = std::get_if<DmaCmd>(&instr.cmd)) {
          if (a.write) {
            d->dst = MemRef::spm(0, *at + (d->dst.addr - lo));
            d->multicast = static_cast<uint16_t>(chip.cores);
          } else {
            d->src = MemRef::spm(static_cast<uint16_t>(a.core),
                                 *at + (d->src.addr - lo));
          }
        } else if (auto *g = std::get_if<GatherCmd>(&instr.cmd)) {
          g->table = MemRef::spm(static_cast<uint16_t>(a.core),
                                 *at + (g->table.addr - lo));
        }
        a.moved = true;
      }
    regions.push_back({*at, *at + size, p, last});
    return true;
  }

private:
  /// Records instruction i's DRAM sides that meet the arena.
  void noteArena(size_t k, unsigned core, size_t i, uint64_t arenaLo,
                 uint64_t arenaHi) {
    auto note = [&](const MemRef &ref, uint32_t rowBytes, uint32_t rows,
                    uint32_t planes, uint64_t rowStride, uint64_t planeStride,
                    bool write, bool movable) {
      if (ref.space != MemSpace::Dram)
        return;
      auto [from, to] =
          hullOf(ref.addr, rowBytes, rows, planes, rowStride, planeStride);
      if (to <= arenaLo || from >= arenaHi || from == to)
        return;
      Access a;
      a.core = core;
      a.index = i;
      a.write = write;
      a.lo = from;
      a.hi = to;
      a.movable = movable && from >= arenaLo && to <= arenaHi;
      addSegments(a.bytes, ref.addr, rowBytes, rows, planes, rowStride,
                  planeStride);
      arenaAccesses[k].push_back(std::move(a));
    };
    const Instr &instr = stream.cores[core][i];
    if (const auto *d = std::get_if<DmaCmd>(&instr.cmd)) {
      note(d->src, d->rowBytes, d->rows, d->planes, d->srcRowStride,
           d->srcPlaneStride, false, true);
      note(d->dst, d->rowBytes, d->rows, d->planes, d->dstRowStride,
           d->dstPlaneStride, true, true);
    } else if (const auto *g = std::get_if<GatherCmd>(&instr.cmd)) {
      // The rows a gather reads are data dependent: the whole table.
      note(g->table, g->rowBytes, g->numRows, 1, g->tableRowStride, 0, false,
           true);
      note(g->dst, g->rowBytes, g->count, 1, g->dstRowStride, 0, true, false);
    }
  }

  Stream &stream;
  const ChipDesc &chip;
  std::vector<StreamEmitter::PrefetchRegion> &regions;
  std::vector<std::vector<Access>> arenaAccesses; ///< Per kernel.
  std::vector<Intervals> spmUsed; ///< Per kernel, any core: [lo, hi).
};

} // namespace

StreamEmitter::OnChipStats
StreamEmitter::keepActivationsOnChip(uint64_t arenaLo, uint64_t arenaHi) {
  OnChipStats stats;
  closeRecord();
  if (!chipDesc.dma.multicast || chipDesc.cores < 2 || records.empty())
    return stats;
  Emitted e(stream, chipDesc, records, regions, arenaLo, arenaHi);
  for (size_t p = 0; p < e.kernels(); ++p)
    for (auto [lo, hi] : e.written(p))
      if (std::optional<size_t> last = e.lastReader(p, lo, hi))
        if (e.forward(p, *last, lo, hi)) {
          ++stats.ranges;
          stats.bytes += hi - lo;
        }
  return stats;
}

} // namespace gaon::npu_kernels
