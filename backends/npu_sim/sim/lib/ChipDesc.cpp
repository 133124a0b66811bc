//===- ChipDesc.cpp - Chip description parsing and validation -------------===//

#include "gaon/npu_sim/ChipDesc.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace gaon::npu_sim {

namespace {

using Json = nlohmann::json;

// Ops whose per-group cost the chip file gives; the simple ones (add, max,
// copy, ...) cost one cycle per lane-wide group and need no entry.
const std::set<std::string> &costedVectorOps() {
  static const std::set<std::string> ops = {
      "exp", "log",  "sqrt",    "rsqrt", "recip",    "div",
      "erf", "tanh", "sigmoid", "sin",   "cos",      "pow",
      "mod", "fmod", "silu",    "gelu",  "gelu_tanh"};
  return ops;
}

std::string describe(const Json &value) {
  std::string text = value.dump();
  return text.size() > 60 ? text.substr(0, 57) + "..." : text;
}

// Reads the fields of one JSON object, remembering which were used so that
// unknown (misspelt) fields are reported instead of silently ignored.
class FieldReader {
public:
  FieldReader(const Json &object, std::string path, const std::string &source)
      : object(object), path(std::move(path)), source(source) {
    if (!object.is_object())
      fail("", "must be an object", object);
  }

  bool has(const std::string &key) const { return object.contains(key); }

  [[noreturn]] void fail(const std::string &key, const std::string &what,
                         const Json &got) const {
    throw SimError(source + ": " + fieldPath(key) + " " + what + ", got " +
                   describe(got));
  }
  [[noreturn]] void invalid(const std::string &key,
                            const std::string &what) const {
    throw SimError(source + ": " + fieldPath(key) + " " + what);
  }
  [[noreturn]] void missing(const std::string &key) const {
    throw SimError(source + ": " + fieldPath(key) + " is required");
  }

  const Json &get(const std::string &key) {
    auto it = object.find(key);
    if (it == object.end())
      missing(key);
    used.insert(key);
    return *it;
  }

  uint64_t integer(const std::string &key, uint64_t min, uint64_t max) {
    const Json &value = get(key);
    bool ok = value.is_number_integer() ||
              (value.is_number_float() &&
               std::floor(value.get<double>()) == value.get<double>());
    double asDouble = ok ? value.get<double>() : 0;
    if (!ok || asDouble < static_cast<double>(min) ||
        asDouble > static_cast<double>(max)) {
      std::string range = min == 1 && max >= (1ull << 62)
                              ? "a positive integer"
                              : "an integer in [" + std::to_string(min) + ", " +
                                    std::to_string(max) + "]";
      fail(key, "must be " + range, value);
    }
    return static_cast<uint64_t>(asDouble);
  }
  uint64_t integerOr(const std::string &key, uint64_t min, uint64_t max,
                     uint64_t fallback) {
    return has(key) ? integer(key, min, max) : fallback;
  }

  double number(const std::string &key, double min, double max,
                bool minExclusive) {
    const Json &value = get(key);
    double asDouble = value.is_number() ? value.get<double>() : NAN;
    bool ok = value.is_number() && std::isfinite(asDouble) && asDouble <= max &&
              (minExclusive ? asDouble > min : asDouble >= min);
    if (!ok) {
      std::ostringstream range;
      if (minExclusive && min == 0)
        range << "a positive number";
      else if (min == 0)
        range << "a non-negative number";
      else
        range << "a number >= " << min;
      if (max < 1e300)
        range << " at most " << max;
      fail(key, "must be " + range.str(), value);
    }
    return asDouble;
  }
  double positive(const std::string &key, double max = 1e308) {
    return number(key, 0, max, true);
  }
  double nonNegative(const std::string &key, double max = 1e308) {
    return number(key, 0, max, false);
  }
  double nonNegativeOr(const std::string &key, double fallback) {
    return has(key) ? nonNegative(key) : fallback;
  }

  std::string string(const std::string &key) {
    const Json &value = get(key);
    if (!value.is_string() || value.get<std::string>().empty())
      fail(key, "must be a non-empty string", value);
    return value.get<std::string>();
  }
  bool boolean(const std::string &key, bool fallback) {
    if (!has(key))
      return fallback;
    const Json &value = get(key);
    if (!value.is_boolean())
      fail(key, "must be true or false", value);
    return value.get<bool>();
  }

  FieldReader child(const std::string &key) {
    return FieldReader(get(key), fieldPath(key), source);
  }

  /// Reads {dtype: number} into a per-dtype array. Only the types a
  /// tensor unit can multiply are keys (the integers past int8 and bool
  /// are storage types).
  std::array<double, kNumDTypes> perDType(const std::string &key,
                                          bool positiveOnly) {
    FieldReader table = child(key);
    std::array<double, kNumDTypes> result{};
    for (auto &item : table.object.items()) {
      auto type = parseDType(item.key());
      if (!type || !(isFloatType(*type) || *type == DType::I8))
        table.invalid(item.key(),
                      "is not a tensor-unit dtype (fp32, bf16, fp16, fp8, "
                      "int8)");
      result[static_cast<int>(*type)] = positiveOnly
                                            ? table.positive(item.key())
                                            : table.nonNegative(item.key());
    }
    return result;
  }

  /// Every field must have been read: anything else is a typo.
  void finish() const {
    for (auto &item : object.items())
      if (!used.count(item.key()))
        throw SimError(source + ": unknown field " + fieldPath(item.key()));
  }

  std::string fieldPath(const std::string &key) const {
    if (key.empty())
      return path.empty() ? "<root>" : path;
    return path.empty() ? key : path + "." + key;
  }

  const Json &object;

private:
  std::string path;
  const std::string &source;
  std::set<std::string> used;
};

TensorUnitDesc readTensorUnit(FieldReader reader) {
  TensorUnitDesc tensor;
  tensor.rows = static_cast<uint32_t>(reader.integer("rows", 1, 4096));
  tensor.cols = static_cast<uint32_t>(reader.integer("cols", 1, 4096));
  std::string dataflow = reader.string("dataflow");
  if (dataflow == "weight_stationary")
    tensor.dataflow = Dataflow::WeightStationary;
  else if (dataflow == "output_stationary")
    tensor.dataflow = Dataflow::OutputStationary;
  else
    reader.fail("dataflow",
                "must be \"weight_stationary\" or \"output_stationary\"",
                Json(dataflow));
  tensor.macsPerCycle = reader.perDType("macs_per_cycle", true);
  if (tensor.macsPerCycle[static_cast<int>(DType::BF16)] == 0 &&
      tensor.macsPerCycle[static_cast<int>(DType::F16)] == 0)
    reader.invalid(
        "macs_per_cycle",
        "must give bf16 or fp16 (the rate fp32 emulation derives from)");
  if (reader.has("fp32_emulation_slowdown"))
    tensor.fp32EmulationSlowdown =
        reader.number("fp32_emulation_slowdown", 1, 1024, false);
  tensor.weightDoubleBuffer = reader.boolean("weight_double_buffer", true);
  reader.finish();
  return tensor;
}

VectorUnitDesc readVectorUnit(FieldReader reader) {
  VectorUnitDesc vector;
  vector.lanes = static_cast<uint32_t>(reader.integer("lanes", 1, 1 << 20));
  vector.pipelineLatencyCycles =
      reader.nonNegativeOr("pipeline_latency_cycles", 0);
  if (reader.has("op_cycles")) {
    FieldReader ops = reader.child("op_cycles");
    for (auto &item : ops.object.items()) {
      if (!costedVectorOps().count(item.key()))
        ops.invalid(item.key(),
                    "is not a costed vector op (exp, log, sqrt, rsqrt, recip, "
                    "div, erf, tanh, sigmoid, sin, cos, pow, mod, fmod, silu, "
                    "gelu, gelu_tanh)");
      vector.opCycles[item.key()] = ops.positive(item.key(), 1e6);
    }
  }
  reader.finish();
  return vector;
}

void readCores(FieldReader reader, ChipDesc &chip) {
  chip.cores = static_cast<uint32_t>(reader.integer("count", 1, 1024));
  chip.semaphoresPerCore =
      static_cast<uint32_t>(reader.integerOr("semaphores", 1, 65535, 32));
  chip.tensor = readTensorUnit(reader.child("tensor_unit"));
  chip.vector = readVectorUnit(reader.child("vector_unit"));
  FieldReader spm = reader.child("scratchpad");
  chip.scratchpad.bytes = spm.integer("bytes", 1, 1ull << 40);
  chip.scratchpad.banks =
      static_cast<uint32_t>(spm.integerOr("banks", 1, 4096, 1));
  chip.scratchpad.bytesPerCycle = spm.positive("bytes_per_cycle");
  spm.finish();
  FieldReader dma = reader.child("dma");
  chip.dma.engines = static_cast<uint32_t>(dma.integer("engines", 1, 64));
  chip.dma.bytesPerCycle = dma.positive("bytes_per_cycle");
  chip.dma.setupCycles = dma.nonNegativeOr("setup_cycles", 0);
  chip.dma.multicast = dma.boolean("multicast", false);
  dma.finish();
  reader.finish();
}

} // namespace

double ChipDesc::peakMacsPerCycle(DType type) const {
  double native = tensor.macsPerCycle[static_cast<int>(type)];
  if (native > 0 || type != DType::F32)
    return native;
  double base = tensor.macsPerCycle[static_cast<int>(DType::BF16)];
  if (base == 0)
    base = tensor.macsPerCycle[static_cast<int>(DType::F16)];
  return base / tensor.fp32EmulationSlowdown;
}

double ChipDesc::pjPerMac(DType type) const {
  double pj = energy.pjPerMac[static_cast<int>(type)];
  if (pj > 0 || type != DType::F32)
    return pj;
  // Emulated fp32 runs several bf16 passes.
  return energy.pjPerMac[static_cast<int>(DType::BF16)] *
         tensor.fp32EmulationSlowdown;
}

ChipDesc parseChipJson(std::string_view textView, std::string_view sourceView) {
  std::string sourceName(sourceView);
  Json root;
  try {
    root = Json::parse(textView.begin(), textView.end());
  } catch (const Json::parse_error &error) {
    throw SimError(sourceName + ": not valid JSON: " + error.what());
  }
  FieldReader reader(root, "", sourceName);
  ChipDesc chip;
  chip.source = sourceName;
  chip.name = reader.string("name");
  if (reader.has("description"))
    chip.description = reader.string("description");
  chip.clockGhz = reader.positive("clock_ghz", 10);
  chip.tdpWatts = reader.positive("tdp_watts", 100000);
  readCores(reader.child("cores"), chip);

  if (reader.has("shared_sram")) {
    FieldReader shared = reader.child("shared_sram");
    chip.shared.bytes = shared.integer("bytes", 1, 1ull << 40);
    chip.shared.bytesPerCycle = shared.positive("bytes_per_cycle");
    shared.finish();
  }

  FieldReader network = reader.child("network");
  chip.network.bytesPerCycle = network.positive("bytes_per_cycle");
  chip.network.latencyCycles = network.nonNegative("latency_cycles");
  network.finish();

  FieldReader dram = reader.child("dram");
  chip.dram.kind = dram.string("kind");
  chip.dram.channels = static_cast<uint32_t>(dram.integer("channels", 1, 1024));
  chip.dram.bytes = dram.integer("bytes", 1, 1ull << 48);
  chip.dram.bandwidthGBps = dram.positive("bandwidth_gbps");
  chip.dram.latencyNs = dram.nonNegative("latency_ns", 1e6);
  chip.dram.interleaveBytes = static_cast<uint32_t>(
      dram.integerOr("interleave_bytes", 32, 1 << 20, 256));
  if (chip.dram.interleaveBytes & (chip.dram.interleaveBytes - 1))
    dram.fail("interleave_bytes", "must be a power of two",
              Json(chip.dram.interleaveBytes));
  dram.finish();

  FieldReader energy = reader.child("energy");
  chip.energy.pjPerMac = energy.perDType("pj_per_mac", false);
  chip.energy.pjPerScratchpadByte =
      energy.nonNegative("pj_per_scratchpad_byte");
  chip.energy.pjPerSharedByte = energy.nonNegativeOr(
      "pj_per_shared_byte", chip.energy.pjPerScratchpadByte);
  chip.energy.pjPerDramBit = energy.nonNegative("pj_per_dram_bit");
  chip.energy.pjPerNetworkByte = energy.nonNegative("pj_per_network_byte");
  chip.energy.pjPerVectorOp = energy.nonNegativeOr("pj_per_vector_op", 0);
  chip.energy.staticWatts = energy.nonNegative("static_watts");
  for (int i = 0; i < kNumDTypes; ++i) {
    DType type = static_cast<DType>(i);
    if (chip.tensor.macsPerCycle[i] > 0 && chip.energy.pjPerMac[i] == 0)
      throw SimError(
          sourceName + ": energy.pj_per_mac." + dtypeName(type) +
          " is required because cores.tensor_unit.macs_per_cycle gives " +
          dtypeName(type));
  }
  energy.finish();
  if (chip.energy.staticWatts > chip.tdpWatts)
    throw SimError(sourceName + ": energy.static_watts (" +
                   std::to_string(chip.energy.staticWatts) +
                   ") exceeds tdp_watts (" + std::to_string(chip.tdpWatts) +
                   ")");
  reader.finish();
  return chip;
}

bool ChipDesc::operator==(const ChipDesc &o) const {
  return name == o.name && description == o.description &&
         clockGhz == o.clockGhz && cores == o.cores &&
         semaphoresPerCore == o.semaphoresPerCore &&
         tensor.rows == o.tensor.rows && tensor.cols == o.tensor.cols &&
         tensor.dataflow == o.tensor.dataflow &&
         tensor.macsPerCycle == o.tensor.macsPerCycle &&
         tensor.fp32EmulationSlowdown == o.tensor.fp32EmulationSlowdown &&
         tensor.weightDoubleBuffer == o.tensor.weightDoubleBuffer &&
         vector.lanes == o.vector.lanes &&
         vector.pipelineLatencyCycles == o.vector.pipelineLatencyCycles &&
         vector.opCycles == o.vector.opCycles &&
         scratchpad.bytes == o.scratchpad.bytes &&
         scratchpad.banks == o.scratchpad.banks &&
         scratchpad.bytesPerCycle == o.scratchpad.bytesPerCycle &&
         dma.engines == o.dma.engines &&
         dma.bytesPerCycle == o.dma.bytesPerCycle &&
         dma.setupCycles == o.dma.setupCycles &&
         dma.multicast == o.dma.multicast && shared.bytes == o.shared.bytes &&
         shared.bytesPerCycle == o.shared.bytesPerCycle &&
         network.bytesPerCycle == o.network.bytesPerCycle &&
         network.latencyCycles == o.network.latencyCycles &&
         dram.kind == o.dram.kind && dram.channels == o.dram.channels &&
         dram.bytes == o.dram.bytes &&
         dram.bandwidthGBps == o.dram.bandwidthGBps &&
         dram.latencyNs == o.dram.latencyNs &&
         dram.interleaveBytes == o.dram.interleaveBytes &&
         energy.pjPerMac == o.energy.pjPerMac &&
         energy.pjPerScratchpadByte == o.energy.pjPerScratchpadByte &&
         energy.pjPerSharedByte == o.energy.pjPerSharedByte &&
         energy.pjPerDramBit == o.energy.pjPerDramBit &&
         energy.pjPerNetworkByte == o.energy.pjPerNetworkByte &&
         energy.pjPerVectorOp == o.energy.pjPerVectorOp &&
         energy.staticWatts == o.energy.staticWatts && tdpWatts == o.tdpWatts;
}

std::string chipToJson(const ChipDesc &chip, int indent) {
  auto perDType = [](const std::array<double, kNumDTypes> &values) {
    Json table = Json::object();
    for (int i = 0; i < kNumDTypes; ++i)
      if (values[i] != 0)
        table[dtypeName(static_cast<DType>(i))] = values[i];
    return table;
  };
  Json root = Json::object();
  root["name"] = chip.name;
  if (!chip.description.empty())
    root["description"] = chip.description;
  root["clock_ghz"] = chip.clockGhz;
  root["tdp_watts"] = chip.tdpWatts;
  Json ops = Json::object();
  for (const auto &[op, cycles] : chip.vector.opCycles)
    ops[op] = cycles;
  root["cores"] = {
      {"count", chip.cores},
      {"semaphores", chip.semaphoresPerCore},
      {"tensor_unit",
       {{"rows", chip.tensor.rows},
        {"cols", chip.tensor.cols},
        {"dataflow", chip.tensor.dataflow == Dataflow::WeightStationary
                         ? "weight_stationary"
                         : "output_stationary"},
        {"macs_per_cycle", perDType(chip.tensor.macsPerCycle)},
        {"fp32_emulation_slowdown", chip.tensor.fp32EmulationSlowdown},
        {"weight_double_buffer", chip.tensor.weightDoubleBuffer}}},
      {"vector_unit",
       {{"lanes", chip.vector.lanes},
        {"pipeline_latency_cycles", chip.vector.pipelineLatencyCycles},
        {"op_cycles", ops}}},
      {"scratchpad",
       {{"bytes", chip.scratchpad.bytes},
        {"banks", chip.scratchpad.banks},
        {"bytes_per_cycle", chip.scratchpad.bytesPerCycle}}},
      {"dma",
       {{"engines", chip.dma.engines},
        {"bytes_per_cycle", chip.dma.bytesPerCycle},
        {"setup_cycles", chip.dma.setupCycles},
        {"multicast", chip.dma.multicast}}}};
  if (chip.shared.bytes > 0)
    root["shared_sram"] = {{"bytes", chip.shared.bytes},
                           {"bytes_per_cycle", chip.shared.bytesPerCycle}};
  root["network"] = {{"bytes_per_cycle", chip.network.bytesPerCycle},
                     {"latency_cycles", chip.network.latencyCycles}};
  root["dram"] = {{"kind", chip.dram.kind},
                  {"channels", chip.dram.channels},
                  {"bytes", chip.dram.bytes},
                  {"bandwidth_gbps", chip.dram.bandwidthGBps},
                  {"latency_ns", chip.dram.latencyNs},
                  {"interleave_bytes", chip.dram.interleaveBytes}};
  root["energy"] = {{"pj_per_mac", perDType(chip.energy.pjPerMac)},
                    {"pj_per_scratchpad_byte", chip.energy.pjPerScratchpadByte},
                    {"pj_per_shared_byte", chip.energy.pjPerSharedByte},
                    {"pj_per_dram_bit", chip.energy.pjPerDramBit},
                    {"pj_per_network_byte", chip.energy.pjPerNetworkByte},
                    {"pj_per_vector_op", chip.energy.pjPerVectorOp},
                    {"static_watts", chip.energy.staticWatts}};
  return root.dump(indent);
}

std::vector<std::string> presetSearchDirs() {
  std::vector<std::string> dirs;
  if (const char *env = std::getenv("GAON_NPU_PRESETS"))
    if (*env)
      dirs.emplace_back(env);
#ifdef GAON_NPU_PRESETS_DIR
  dirs.emplace_back(GAON_NPU_PRESETS_DIR);
#endif
#ifdef GAON_NPU_PRESETS_INSTALL_DIR
  dirs.emplace_back(GAON_NPU_PRESETS_INSTALL_DIR);
#endif
  return dirs;
}

ChipDesc loadChip(const std::string &nameOrPath) {
  std::string name = nameOrPath.empty() ? "rngd" : nameOrPath;
  bool looksLikePath =
      name.find('/') != std::string::npos ||
      (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0);
  std::vector<std::string> candidates;
  if (looksLikePath) {
    candidates.push_back(name);
  } else {
    for (const std::string &dir : presetSearchDirs())
      candidates.push_back(dir + "/" + name + ".json");
  }
  for (const std::string &path : candidates) {
    std::ifstream file(path, std::ios::binary);
    if (!file)
      continue;
    std::stringstream text;
    text << file.rdbuf();
    std::string shown = path.substr(path.find_last_of('/') + 1);
    return parseChipJson(text.str(), looksLikePath ? path : shown);
  }
  std::string message = "cannot find chip '" + name + "'";
  if (!looksLikePath) {
    message += " (presets: rngd, atom, tiny; searched";
    for (const std::string &dir : presetSearchDirs())
      message += " " + dir;
    message += "; set GAON_NPU_PRESETS to override)";
  }
  throw SimError(message);
}

} // namespace gaon::npu_sim
