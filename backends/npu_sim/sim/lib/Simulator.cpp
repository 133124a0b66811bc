//===- Simulator.cpp - Event-driven timing engine -------------------------===//
//
// Every unit of every core (DMA engines, tensor unit, vector unit) owns an
// in-order queue. Units are kept in a heap keyed by the simulated time at
// which each can issue its next instruction; the earliest one issues, so
// shared resources (DRAM channels, network links, shared SRAM) see requests
// in time order. An instruction is costed at tile level in O(1) (O(channels)
// for small DMAs): time jumps from event to event, nothing ticks per cycle.
//
// Each unit tracks two times: freeAt, when it can issue its next instruction
// (DMA engines and the tensor unit pipeline, so this is before the previous
// result lands), and doneAt, when all it issued has completed. Sync
// instructions wait for doneAt, so a signal publishes finished results.
//
//===----------------------------------------------------------------------===//

#include "gaon/npu_sim/Simulator.h"

#include "Functional.h"
#include "TraceWriter.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <queue>
#include <sstream>

namespace gaon::npu_sim {

struct Simulator::Memories : detail::ChipMemory {};

namespace {

struct Event {
  double time;
  uint64_t seq; // FIFO among equal times keeps runs deterministic
  int32_t unit; // -1: a remote semaphore delivery
  uint32_t payload;
  bool operator>(const Event &o) const {
    return time != o.time ? time > o.time : seq > o.seq;
  }
};

struct UnitState {
  uint16_t core = 0;
  UnitRef ref;
  int traceTid = 0;
  std::vector<const Instr *> queue;
  size_t pc = 0;
  double freeAt = 0, doneAt = 0;
  double busy = 0;
  uint64_t issued = 0;
  double tensorStreamEnd = -1; // when the array last stopped streaming
};

struct Semaphore {
  int64_t value = 0;
  std::vector<int32_t> waiters;
};

struct BarrierState {
  uint32_t arrived = 0;
  std::vector<int32_t> members;
};

struct Delivery {
  uint16_t core, sem;
  uint32_t count;
};

// Costs of one instruction, computed when it issues.
struct Cost {
  double issueEnd; // the unit may issue its next instruction
  double complete; // results are visible
};

class Engine {
public:
  Engine(const ChipDesc &chip, detail::ChipMemory &memory,
         const RunOptions &options)
      : chip(chip), memory(memory), options(options),
        channelFree(chip.dram.channels, 0.0), linkFree(chip.cores, 0.0),
        channelBytes(chip.dram.channels, 0.0) {
    unitsPerCore = chip.dma.engines + 2;
    dramChannelRate = chip.dramBytesPerCycle() / chip.dram.channels;
  }

  Report run(const Stream &stream);
  std::string trace() const { return traceWriter.json(chip); }

private:
  int32_t unitIndex(uint16_t core, UnitRef ref) const {
    int slot = ref.kind == UnitKind::Dma      ? ref.index
               : ref.kind == UnitKind::Tensor ? chip.dma.engines
                                              : chip.dma.engines + 1;
    return static_cast<int32_t>(core * unitsPerCore + slot);
  }
  void push(double time, int32_t unit, uint32_t payload = 0) {
    heap.push(Event{time, nextSeq++, unit, payload});
  }
  void step(int32_t unitId, double now);
  void deliver(const Delivery &delivery, double now);
  Cost costDma(const UnitState &unit, const DmaCmd &cmd, double start);
  Cost costTransfer(const UnitState &unit, const MemRef &src, const MemRef &dst,
                    double bytes, const DmaCmd *pattern, double start);
  Cost costGather(const UnitState &unit, const GatherCmd &cmd, double start);
  Cost costMatmul(UnitState &unit, const MatmulCmd &cmd, double start);
  Cost costVector(const VectorCmd &cmd, double start);
  double reserveDram(const MemRef &ref, const DmaCmd *cmd, double bytes,
                     bool isSource, double start);
  double reserveLink(uint16_t core, double bytes, double start);
  std::string describeDeadlock() const;
  /// "core C instr I (unit)", as validateStream names instructions.
  std::string where(const UnitState &unit, const Instr &instr) const {
    const std::vector<Instr> &program = stream->cores[unit.core];
    size_t index = static_cast<size_t>(&instr - program.data());
    return "core " + std::to_string(unit.core) + " instr " +
           std::to_string(index) + " (" + unitName(instr.unit) + ")";
  }
  const Stream *stream = nullptr;

  const ChipDesc &chip;
  detail::ChipMemory &memory;
  const RunOptions &options;
  int unitsPerCore = 0;
  double dramChannelRate = 0;
  uint32_t streamCores = 0;

  std::vector<UnitState> units;
  std::vector<Semaphore> semaphores; // core * semaphoresPerCore + id
  std::vector<BarrierState> barriers;
  std::vector<Delivery> deliveries;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> heap;
  uint64_t nextSeq = 0;
  double endTime = 0;

  std::vector<double> channelFree; // per DRAM channel
  std::vector<double> linkFree;    // per core network link
  double sharedFree = 0;
  std::vector<double> channelBytes; // scratch for DRAM interleaving

  Report report;
  detail::TraceWriter traceWriter;
};

// Spreads a strided access over the interleaved DRAM channels and queues it
// on each; returns when the last channel has streamed its share. Without a
// pattern (a gather: data-dependent rows) the bytes spread evenly.
double Engine::reserveDram(const MemRef &ref, const DmaCmd *pattern,
                           double total, bool isSource, double start) {
  uint32_t channels = chip.dram.channels;
  uint64_t granule = chip.dram.interleaveBytes;
  std::fill(channelBytes.begin(), channelBytes.end(), 0.0);
  if (!pattern || total >= 16.0 * channels * granule) {
    // Large transfers cover every channel almost evenly: skip the walk.
    std::fill(channelBytes.begin(), channelBytes.end(), total / channels);
  } else {
    const DmaCmd &cmd = *pattern;
    uint64_t rowStride = isSource ? cmd.srcRowStride : cmd.dstRowStride;
    uint64_t planeStride = isSource ? cmd.srcPlaneStride : cmd.dstPlaneStride;
    for (uint32_t p = 0; p < cmd.planes; ++p)
      for (uint32_t r = 0; r < cmd.rows; ++r) {
        uint64_t addr = ref.addr + p * planeStride + r * rowStride;
        uint64_t end = addr + cmd.rowBytes;
        while (addr < end) {
          uint64_t chunkEnd = std::min(end, (addr / granule + 1) * granule);
          channelBytes[(addr / granule) % channels] +=
              static_cast<double>(chunkEnd - addr);
          addr = chunkEnd;
        }
      }
  }
  double finish = start;
  for (uint32_t c = 0; c < channels; ++c) {
    if (channelBytes[c] == 0)
      continue;
    double begin = std::max(start, channelFree[c]);
    channelFree[c] = begin + channelBytes[c] / dramChannelRate;
    finish = std::max(finish, channelFree[c]);
  }
  return finish;
}

double Engine::reserveLink(uint16_t core, double bytes, double start) {
  double begin = std::max(start, linkFree[core]);
  linkFree[core] = begin + bytes / chip.network.bytesPerCycle;
  return linkFree[core];
}

Cost Engine::costDma(const UnitState &unit, const DmaCmd &cmd, double start) {
  double bytes = static_cast<double>(cmd.rowBytes) * cmd.rows * cmd.planes;
  if (cmd.multicast <= 1)
    return costTransfer(unit, cmd.src, cmd.dst, bytes, &cmd, start);
  // Multicast: the source is read once and streamed as a transfer into one
  // scratchpad; the fetch network's switches replicate it to the group (no
  // core-to-core link is reserved), adding the network latency when a copy
  // leaves the issuing core, the other scratchpads' writes and the
  // replicated bytes' network energy.
  MemRef local = MemRef::spm(unit.core, cmd.dst.addr);
  Cost cost = costTransfer(unit, cmd.src, local, bytes, &cmd, start);
  bool issuerInGroup = unit.core >= cmd.dst.core &&
                       unit.core < uint32_t(cmd.dst.core) + cmd.multicast;
  double remote = double(cmd.multicast) - (issuerInGroup ? 1 : 0);
  report.scratchpadWriteBytes +=
      static_cast<uint64_t>(bytes * (double(cmd.multicast) - 1));
  report.networkBytes += static_cast<uint64_t>(bytes * remote);
  if (remote > 0)
    cost.complete += chip.network.latencyCycles;
  return cost;
}

// A gather moves count rows like a DMA of count rows whose DRAM addresses
// are data dependent; the engine also reads the indices from its scratchpad
// (bounded by the same scratchpad port, before the rows stream).
Cost Engine::costGather(const UnitState &unit, const GatherCmd &cmd,
                        double start) {
  double indexBytes = double(cmd.count) * dtypeBytes(cmd.indexType);
  report.scratchpadReadBytes += static_cast<uint64_t>(indexBytes);
  double indexCycles = indexBytes / chip.scratchpad.bytesPerCycle;
  double bytes = double(cmd.rowBytes) * cmd.count;
  return costTransfer(unit, cmd.table, cmd.dst, bytes, nullptr,
                      start + indexCycles);
}

Cost Engine::costTransfer(const UnitState &unit, const MemRef &src,
                          const MemRef &dst, double bytes,
                          const DmaCmd *pattern, double start) {
  double rate = chip.dma.bytesPerCycle;
  bool touchesSpm =
      src.space == MemSpace::Scratchpad || dst.space == MemSpace::Scratchpad;
  if (touchesSpm)
    rate = std::min(rate, chip.scratchpad.bytesPerCycle);
  double begin = start + chip.dma.setupCycles;
  double streamEnd = begin + bytes / rate;
  double latency = 0;

  auto countSide = [&](const MemRef &ref, bool isSource) {
    switch (ref.space) {
    case MemSpace::Dram:
      streamEnd = std::max(streamEnd,
                           reserveDram(ref, pattern, bytes, isSource, begin));
      latency = std::max(latency, chip.dramLatencyCycles());
      (isSource ? report.dramReadBytes : report.dramWriteBytes) +=
          static_cast<uint64_t>(bytes);
      break;
    case MemSpace::Scratchpad:
      (isSource ? report.scratchpadReadBytes : report.scratchpadWriteBytes) +=
          static_cast<uint64_t>(bytes);
      break;
    case MemSpace::Shared: {
      double sharedBegin = std::max(begin, sharedFree);
      sharedFree = sharedBegin + bytes / chip.shared.bytesPerCycle;
      streamEnd = std::max(streamEnd, sharedFree);
      report.sharedBytes += static_cast<uint64_t>(bytes);
      break;
    }
    }
  };
  countSide(src, true);
  countSide(dst, false);

  // Another core's scratchpad, and the shared SRAM, sit across the network.
  bool remoteSrc = src.space == MemSpace::Scratchpad && src.core != unit.core;
  bool remoteDst = dst.space == MemSpace::Scratchpad && dst.core != unit.core;
  bool viaShared =
      src.space == MemSpace::Shared || dst.space == MemSpace::Shared;
  if (remoteSrc || remoteDst || viaShared) {
    streamEnd = std::max(streamEnd, reserveLink(unit.core, bytes, begin));
    if (remoteSrc)
      streamEnd = std::max(streamEnd, reserveLink(src.core, bytes, begin));
    if (remoteDst)
      streamEnd = std::max(streamEnd, reserveLink(dst.core, bytes, begin));
    latency += chip.network.latencyCycles;
    report.networkBytes += static_cast<uint64_t>(bytes);
  }
  return {streamEnd, streamEnd + latency};
}

// Weight-stationary (SCALE-Sim style): the array holds a rows x cols block
// of B (a fold); A's m rows stream through it. Low-precision types pack
// several MACs per PE along K; emulated fp32 takes several passes. Loading a
// fold's weights overlaps the previous fold's streaming when the weights are
// double-buffered; the pipeline fill/drain (rows + cols) delays completion
// but not the next issue, so back-to-back tiles keep the array busy.
Cost Engine::costMatmul(UnitState &unit, const MatmulCmd &cmd, double start) {
  const TensorUnitDesc &tu = chip.tensor;
  double factor =
      chip.peakMacsPerCycle(cmd.inType) / (double(tu.rows) * tu.cols);
  double pack = std::max(1.0, std::floor(factor));
  double passes = factor < 1.0 ? 1.0 / factor : 1.0;
  bool weightStationary = tu.dataflow == Dataflow::WeightStationary;
  // Stationary operand extent (K x N for WS, M x N for OS) and streamed length.
  uint64_t stationaryRows = weightStationary ? cmd.k : cmd.m;
  uint64_t streamLength = weightStationary ? cmd.m : cmd.k;
  double rowsPerFold = weightStationary ? tu.rows * pack : tu.rows;
  double streamCycles = weightStationary
                            ? streamLength * passes
                            : std::ceil(streamLength / pack) * passes;
  uint64_t fullFolds = static_cast<uint64_t>(stationaryRows / rowsPerFold);
  double lastRows = stationaryRows - fullFolds * rowsPerFold;
  double colFolds = std::ceil(double(cmd.n) / tu.cols);

  auto foldCost = [&](double rows) {
    double load = std::ceil(rows / (weightStationary ? pack : 1.0));
    return tu.weightDoubleBuffer ? std::max(streamCycles, load)
                                 : load + streamCycles;
  };
  double occupancy = colFolds * (fullFolds * foldCost(rowsPerFold) +
                                 (lastRows > 0 ? foldCost(lastRows) : 0.0));
  // The first fold's weights are exposed unless the array was streaming.
  bool backToBack = start <= unit.tensorStreamEnd + 0.5;
  if (tu.weightDoubleBuffer && !backToBack)
    occupancy += std::ceil(std::min<double>(stationaryRows, rowsPerFold) /
                           (weightStationary ? pack : 1.0));
  unit.tensorStreamEnd = start + occupancy;
  double drain = double(tu.rows) + tu.cols - 2;

  uint64_t macs = uint64_t(cmd.m) * cmd.n * cmd.k;
  report.macs[static_cast<int>(cmd.inType)] += macs;
  unsigned in = dtypeBytes(cmd.inType), out = dtypeBytes(cmd.outType);
  // A streams once per column fold; B and C once.
  report.scratchpadReadBytes += static_cast<uint64_t>(
      colFolds * cmd.m * cmd.k * in + double(cmd.k) * cmd.n * in +
      (cmd.accumulate ? double(cmd.m) * cmd.n * out : 0.0));
  report.scratchpadWriteBytes += uint64_t(cmd.m) * cmd.n * out;
  return {start + occupancy, start + occupancy + drain};
}

// Elements an input operand covers (its broadcast shape).
double operandElements(const VectorCmd &cmd, Broadcast bcast) {
  double rows =
      (bcast == Broadcast::None || bcast == Broadcast::Col) ? cmd.rows : 1;
  double cols =
      (bcast == Broadcast::None || bcast == Broadcast::Row) ? cmd.cols : 1;
  return rows * cols;
}

Cost Engine::costVector(const VectorCmd &cmd, double start) {
  double groups =
      double(cmd.rows) * std::ceil(double(cmd.cols) / chip.vector.lanes);
  double perGroup = vectorOpCycles(chip, cmd.op);
  double occupancy = groups * perGroup;
  uint64_t elements = uint64_t(cmd.rows) * cmd.cols;
  report.vectorElements += static_cast<uint64_t>(elements * perGroup);
  bool reduction = isReductionVecOp(cmd.op);
  int arity = vecOpArity(cmd.op);
  // Each input is read once over its broadcast shape.
  double readBytes =
      operandElements(cmd, reduction ? Broadcast::None : cmd.bcastA) *
      dtypeBytes(cmd.a.type);
  if (arity >= 2)
    readBytes += operandElements(cmd, cmd.bcast) * dtypeBytes(cmd.b.type);
  if (arity >= 3)
    readBytes += operandElements(cmd, cmd.bcastC) * dtypeBytes(cmd.c.type);
  report.scratchpadReadBytes += static_cast<uint64_t>(readBytes);
  report.scratchpadWriteBytes +=
      (reduction ? cmd.rows : elements) * dtypeBytes(cmd.dst.type);
  return {start + occupancy,
          start + occupancy + chip.vector.pipelineLatencyCycles};
}

void Engine::deliver(const Delivery &delivery, double now) {
  Semaphore &sem =
      semaphores[delivery.core * chip.semaphoresPerCore + delivery.sem];
  sem.value += delivery.count;
  for (int32_t waiter : sem.waiters)
    push(now, waiter);
  sem.waiters.clear();
  endTime = std::max(endTime, now);
}

void Engine::step(int32_t unitId, double now) {
  UnitState &unit = units[unitId];
  while (unit.pc < unit.queue.size()) {
    const Instr &instr = *unit.queue[unit.pc];
    const Command &cmd = instr.cmd;
    // A barrier arrival stands for everything its unit issued before it.
    if (std::holds_alternative<BarrierCmd>(cmd) && now < unit.doneAt) {
      push(unit.doneAt, unitId);
      return;
    }
    if (auto *wait = std::get_if<WaitCmd>(&cmd)) {
      Semaphore &sem =
          semaphores[unit.core * chip.semaphoresPerCore + wait->sem];
      if (sem.value < wait->count) {
        sem.waiters.push_back(unitId);
        return; // woken by the next signal of this semaphore
      }
      sem.value -= wait->count;
      unit.freeAt = now;
    } else if (auto *signal = std::get_if<SignalCmd>(&cmd)) {
      // The signal fires once the unit's earlier work has completed, like a
      // semaphore update chained to the last descriptor; the unit itself
      // goes on issuing (a DMA engine keeps streaming).
      Delivery delivery{signal->core, signal->sem, signal->count};
      double at = std::max(now, unit.doneAt);
      if (signal->core != unit.core)
        at += chip.network.latencyCycles;
      if (at <= now) {
        deliver(delivery, now);
      } else {
        deliveries.push_back(delivery);
        push(at, -1, static_cast<uint32_t>(deliveries.size() - 1));
      }
      unit.freeAt = now;
    } else if (auto *barrier = std::get_if<BarrierCmd>(&cmd)) {
      if (barriers.size() <= barrier->id)
        barriers.resize(barrier->id + 1u);
      BarrierState &state = barriers[barrier->id];
      uint32_t needed =
          barrier->participants ? barrier->participants : streamCores;
      ++unit.pc;
      unit.freeAt = unit.doneAt = now;
      state.members.push_back(unitId);
      if (++state.arrived < needed)
        return; // released by the last arrival
      for (int32_t member : state.members)
        push(now, member);
      state.arrived = 0;
      state.members.clear();
      return;
    } else {
      Cost cost{now, now};
      const char *name = "";
      if (auto *dma = std::get_if<DmaCmd>(&cmd)) {
        cost = costDma(unit, *dma, now);
        if (options.functional)
          detail::executeDma(memory, *dma);
        name = "dma";
      } else if (auto *gather = std::get_if<GatherCmd>(&cmd)) {
        cost = costGather(unit, *gather, now);
        if (options.functional) {
          try {
            detail::executeGather(memory, *gather);
          } catch (const SimError &error) {
            throw SimError(where(unit, instr) + ": " + error.what());
          }
        }
        name = "gather";
      } else if (auto *mm = std::get_if<MatmulCmd>(&cmd)) {
        cost = costMatmul(unit, *mm, now);
        if (options.functional)
          detail::executeMatmul(memory.scratchpads[unit.core], *mm);
        name = "matmul";
      } else if (auto *vec = std::get_if<VectorCmd>(&cmd)) {
        cost = costVector(*vec, now);
        if (options.functional)
          detail::executeVector(memory.scratchpads[unit.core], *vec);
        name = vecOpName(vec->op);
      }
      unit.busy += cost.issueEnd - now;
      unit.freeAt = cost.issueEnd;
      unit.doneAt = std::max(unit.doneAt, cost.complete);
      endTime = std::max(endTime, unit.doneAt);
      if (options.trace)
        traceWriter.add(name, unit.core, unit.traceTid, now,
                        cost.complete - now, instr);
    }
    ++unit.issued;
    ++unit.pc;
    now = unit.freeAt;
    // Keep issuing without a heap round trip while this unit stays earliest.
    if (!heap.empty() && heap.top().time <= now) {
      if (unit.pc < unit.queue.size())
        push(now, unitId);
      return;
    }
  }
}

std::string Engine::describeDeadlock() const {
  std::ostringstream message;
  message << "deadlock: no unit can proceed;";
  for (const UnitState &unit : units) {
    if (unit.pc >= unit.queue.size())
      continue;
    message << " core " << unit.core << " " << unitName(unit.ref)
            << " blocked at its " << unit.pc << "th instruction";
    const Command &cmd = unit.queue[unit.pc]->cmd;
    if (auto *wait = std::get_if<WaitCmd>(&cmd)) {
      const Semaphore &sem =
          semaphores[unit.core * chip.semaphoresPerCore + wait->sem];
      message << " (wait sem " << wait->sem << " needs " << wait->count
              << ", has " << sem.value << ")";
    } else if (std::holds_alternative<BarrierCmd>(cmd) ||
               (unit.pc > 0 && std::holds_alternative<BarrierCmd>(
                                   unit.queue[unit.pc - 1]->cmd))) {
      message << " (barrier)";
    }
    message << ";";
  }
  return message.str();
}

Report Engine::run(const Stream &stream) {
  this->stream = &stream;
  streamCores = static_cast<uint32_t>(stream.cores.size());
  units.resize(streamCores * unitsPerCore);
  for (uint16_t core = 0; core < streamCores; ++core) {
    for (int slot = 0; slot < unitsPerCore; ++slot) {
      UnitState &unit = units[core * unitsPerCore + slot];
      unit.core = core;
      unit.ref = slot < int(chip.dma.engines)
                     ? UnitRef::dma(static_cast<uint8_t>(slot))
                 : slot == int(chip.dma.engines) ? UnitRef::tensor()
                                                 : UnitRef::vector();
      unit.traceTid = slot;
    }
    for (const Instr &instr : stream.cores[core])
      units[unitIndex(core, instr.unit)].queue.push_back(&instr);
  }
  semaphores.assign(size_t(chip.cores) * chip.semaphoresPerCore, Semaphore{});
  for (size_t i = 0; i < units.size(); ++i)
    if (!units[i].queue.empty())
      push(0.0, static_cast<int32_t>(i));

  while (!heap.empty()) {
    Event event = heap.top();
    heap.pop();
    if (event.unit < 0)
      deliver(deliveries[event.payload], event.time);
    else
      step(event.unit, event.time);
  }
  for (const UnitState &unit : units)
    if (unit.pc < unit.queue.size())
      throw SimError(describeDeadlock());

  report.chip = chip.name;
  report.cycles = endTime;
  report.seconds = endTime / (chip.clockGhz * 1e9);
  report.instructions = stream.instructionCount();
  for (const UnitState &unit : units) {
    if (unit.issued == 0 && unit.queue.empty())
      continue;
    UnitReport unitReport;
    unitReport.core = unit.core;
    unitReport.unit = unitName(unit.ref);
    unitReport.instructions = unit.queue.size();
    unitReport.busyCycles = unit.busy;
    unitReport.utilization = endTime > 0 ? unit.busy / endTime : 0;
    report.units.push_back(unitReport);
  }
  return report;
}

// Energy = dynamic counts x the chip's table + static power x time.
void addEnergy(const ChipDesc &chip, Report &report) {
  EnergyReport &energy = report.energy;
  const double pj = 1e-12;
  double peakWeighted = 0;
  uint64_t totalMacs = 0;
  for (int i = 0; i < kNumDTypes; ++i) {
    DType type = static_cast<DType>(i);
    energy.macJ += report.macs[i] * chip.pjPerMac(type) * pj;
    if (report.macs[i]) {
      peakWeighted += report.macs[i] / chip.peakMacsPerCycle(type);
      totalMacs += report.macs[i];
    }
  }
  // MAC utilization: cycles the work needs at peak on all cores / cycles taken.
  report.macUtilization =
      report.cycles > 0 ? peakWeighted / (report.cycles * chip.cores) : 0;
  energy.vectorJ = report.vectorElements * chip.energy.pjPerVectorOp * pj;
  energy.scratchpadJ =
      double(report.scratchpadReadBytes + report.scratchpadWriteBytes) *
      chip.energy.pjPerScratchpadByte * pj;
  energy.sharedJ =
      double(report.sharedBytes) * chip.energy.pjPerSharedByte * pj;
  energy.dramJ = double(report.dramReadBytes + report.dramWriteBytes) * 8.0 *
                 chip.energy.pjPerDramBit * pj;
  energy.networkJ =
      double(report.networkBytes) * chip.energy.pjPerNetworkByte * pj;
  energy.staticJ = chip.energy.staticWatts * report.seconds;
  energy.totalJ = energy.macJ + energy.vectorJ + energy.scratchpadJ +
                  energy.sharedJ + energy.dramJ + energy.networkJ +
                  energy.staticJ;
  report.tdpWatts = chip.tdpWatts;
  report.averageWatts = report.seconds > 0 ? energy.totalJ / report.seconds : 0;
  if (report.averageWatts > chip.tdpWatts) {
    std::ostringstream warning;
    warning << "average power " << report.averageWatts
            << " W exceeds the TDP of " << chip.tdpWatts
            << " W: the energy table or the stream is not credible, or "
            << "the chip would throttle";
    report.warnings.push_back(warning.str());
  }
  (void)totalMacs;
}

} // namespace

Simulator::Simulator(ChipDesc chip)
    : chipDesc(std::move(chip)), memories(std::make_unique<Memories>()) {
  memories->scratchpads.resize(chipDesc.cores);
}

Simulator::~Simulator() = default;

static void checkRange(const char *what, uint64_t addr, size_t bytes,
                       uint64_t size) {
  if (addr > size || bytes > size - addr)
    throw SimError(std::string(what) + " access [" + std::to_string(addr) +
                   ", +" + std::to_string(bytes) + ") exceeds its size " +
                   std::to_string(size));
}

void Simulator::writeDram(uint64_t addr, const void *data, size_t bytes) {
  checkRange("DRAM", addr, bytes, chipDesc.dram.bytes);
  memories->dram.write(addr, data, bytes);
}
void Simulator::readDram(uint64_t addr, void *data, size_t bytes) const {
  checkRange("DRAM", addr, bytes, chipDesc.dram.bytes);
  memories->dram.read(addr, data, bytes);
}
void Simulator::writeScratchpad(uint16_t core, uint64_t addr, const void *data,
                                size_t bytes) {
  if (core >= chipDesc.cores)
    throw SimError("scratchpad of core " + std::to_string(core) +
                   " does not exist");
  checkRange("scratchpad", addr, bytes, chipDesc.scratchpad.bytes);
  memories->scratchpads[core].write(addr, data, bytes);
}
void Simulator::readScratchpad(uint16_t core, uint64_t addr, void *data,
                               size_t bytes) const {
  if (core >= chipDesc.cores)
    throw SimError("scratchpad of core " + std::to_string(core) +
                   " does not exist");
  checkRange("scratchpad", addr, bytes, chipDesc.scratchpad.bytes);
  memories->scratchpads[core].read(addr, data, bytes);
}
void Simulator::writeShared(uint64_t addr, const void *data, size_t bytes) {
  checkRange("shared SRAM", addr, bytes, chipDesc.shared.bytes);
  memories->shared.write(addr, data, bytes);
}
void Simulator::readShared(uint64_t addr, void *data, size_t bytes) const {
  checkRange("shared SRAM", addr, bytes, chipDesc.shared.bytes);
  memories->shared.read(addr, data, bytes);
}

Report Simulator::run(const Stream &stream, const RunOptions &options) {
  validateStream(stream, chipDesc);
  auto wallStart = std::chrono::steady_clock::now();
  Engine engine(chipDesc, *memories, options);
  Report report = engine.run(stream);
  addEnergy(chipDesc, report);
  report.wallSeconds = std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - wallStart)
                           .count();
  lastTrace = options.trace ? engine.trace() : std::string();
  return report;
}

std::string Simulator::traceJson() const { return lastTrace; }

} // namespace gaon::npu_sim
