//===- Report.cpp - Report and trace rendering ----------------------------===//

#include "TraceWriter.h"
#include "gaon/npu_sim/Codec.h"
#include "gaon/npu_sim/Simulator.h"

#include <nlohmann/json.hpp>

#include <iomanip>
#include <set>
#include <sstream>

namespace gaon::npu_sim {

using Json = nlohmann::ordered_json;

std::string reportToJson(const Report &report, int indent) {
  Json root;
  root["chip"] = report.chip;
  root["cycles"] = report.cycles;
  root["seconds"] = report.seconds;
  root["instructions"] = report.instructions;
  Json macs = Json::object();
  for (int i = 0; i < kNumDTypes; ++i)
    if (report.macs[i])
      macs[dtypeName(static_cast<DType>(i))] = report.macs[i];
  root["macs"] = macs;
  root["mac_utilization"] = report.macUtilization;
  root["vector_element_ops"] = report.vectorElements;
  root["bytes"] = {{"dram_read", report.dramReadBytes},
                   {"dram_write", report.dramWriteBytes},
                   {"scratchpad_read", report.scratchpadReadBytes},
                   {"scratchpad_write", report.scratchpadWriteBytes},
                   {"shared_sram", report.sharedBytes},
                   {"network", report.networkBytes}};
  Json units = Json::array();
  for (const UnitReport &unit : report.units)
    units.push_back({{"core", unit.core},
                     {"unit", unit.unit},
                     {"instructions", unit.instructions},
                     {"busy_cycles", unit.busyCycles},
                     {"utilization", unit.utilization}});
  root["units"] = units;
  const EnergyReport &e = report.energy;
  root["energy_joules"] = {{"mac", e.macJ},
                           {"vector", e.vectorJ},
                           {"scratchpad", e.scratchpadJ},
                           {"shared_sram", e.sharedJ},
                           {"dram", e.dramJ},
                           {"network", e.networkJ},
                           {"static", e.staticJ},
                           {"total", e.totalJ}};
  root["average_watts"] = report.averageWatts;
  root["tdp_watts"] = report.tdpWatts;
  root["warnings"] = report.warnings;
  root["wall_seconds"] = report.wallSeconds;
  root["simulated_cycles_per_second"] = report.simulatedCyclesPerSecond();
  return root.dump(indent);
}

std::string reportToText(const Report &report) {
  std::ostringstream out;
  out << std::setprecision(4);
  out << "chip " << report.chip << ": "
      << static_cast<uint64_t>(report.cycles + 0.5)
      << " cycles = " << report.seconds * 1e6 << " us, " << report.instructions
      << " instructions\n";
  out << "MAC utilization " << report.macUtilization * 100
      << "% of chip peak\n";
  out << "bytes: DRAM read " << report.dramReadBytes << ", write "
      << report.dramWriteBytes << "; scratchpad read "
      << report.scratchpadReadBytes << ", write " << report.scratchpadWriteBytes
      << "; shared " << report.sharedBytes << "; network "
      << report.networkBytes << "\n";
  for (const UnitReport &unit : report.units)
    out << "  core " << unit.core << " " << std::left << std::setw(7)
        << unit.unit << std::right << " " << std::setw(6) << unit.instructions
        << " instrs, busy " << unit.utilization * 100 << "%\n";
  const EnergyReport &e = report.energy;
  out << "energy " << e.totalJ * 1e3 << " mJ (MAC " << e.macJ * 1e3
      << ", vector " << e.vectorJ * 1e3 << ", scratchpad "
      << e.scratchpadJ * 1e3 << ", shared " << e.sharedJ * 1e3 << ", DRAM "
      << e.dramJ * 1e3 << ", network " << e.networkJ * 1e3 << ", static "
      << e.staticJ * 1e3 << "), average " << report.averageWatts << " W (TDP "
      << report.tdpWatts << " W)\n";
  for (const std::string &warning : report.warnings)
    out << "warning: " << warning << "\n";
  out << "simulated in " << report.wallSeconds * 1e3 << " ms ("
      << report.simulatedCyclesPerSecond() / 1e6 << " M cycles/s)\n";
  return out.str();
}

namespace detail {

std::string TraceWriter::json(const ChipDesc &chip) const {
  Json rendered = Json::array();
  double usPerCycle = 1.0 / (chip.clockGhz * 1000.0);
  std::set<std::pair<uint16_t, int>> threads;
  for (const Event &event : events) {
    if (threads.insert({event.core, event.tid}).second) {
      if (event.tid == 0 || threads.count({event.core, -1}) == 0) {
        threads.insert({event.core, -1});
        rendered.push_back(
            {{"ph", "M"},
             {"name", "process_name"},
             {"pid", event.core},
             {"args", {{"name", "core " + std::to_string(event.core)}}}});
      }
      rendered.push_back({{"ph", "M"},
                          {"name", "thread_name"},
                          {"pid", event.core},
                          {"tid", event.tid},
                          {"args", {{"name", unitName(event.instr->unit)}}}});
    }
    rendered.push_back({{"ph", "X"},
                        {"name", event.name},
                        {"pid", event.core},
                        {"tid", event.tid},
                        {"ts", event.start * usPerCycle},
                        {"dur", event.duration * usPerCycle},
                        {"args",
                         {{"cycles", event.duration},
                          {"instr", printInstruction(*event.instr)}}}});
  }
  Json root;
  root["traceEvents"] = rendered;
  root["displayTimeUnit"] = "ns";
  root["otherData"] = {{"chip", chip.name}, {"clock_ghz", chip.clockGhz}};
  return root.dump();
}

} // namespace detail

} // namespace gaon::npu_sim
