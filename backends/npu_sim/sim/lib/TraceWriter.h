//===- TraceWriter.h - Chrome/Perfetto timeline (internal) ------*- C++ -*-===//
#ifndef GAON_NPU_SIM_LIB_TRACEWRITER_H
#define GAON_NPU_SIM_LIB_TRACEWRITER_H

#include "gaon/npu_sim/ChipDesc.h"
#include "gaon/npu_sim/Isa.h"

#include <string>
#include <vector>

namespace gaon::npu_sim::detail {

/// Collects one complete ("X") event per instruction; json() renders the
/// Chrome trace format, which ui.perfetto.dev and chrome://tracing open.
/// Instruction pointers must stay valid until json() is called.
class TraceWriter {
public:
  void add(const char *name, uint16_t core, int tid, double startCycles,
           double cycles, const Instr &instr) {
    events.push_back({name, core, tid, startCycles, cycles, &instr});
  }
  std::string json(const ChipDesc &chip) const;

private:
  struct Event {
    const char *name;
    uint16_t core;
    int tid;
    double start, duration;
    const Instr *instr;
  };
  std::vector<Event> events;
};

} // namespace gaon::npu_sim::detail

#endif // GAON_NPU_SIM_LIB_TRACEWRITER_H
