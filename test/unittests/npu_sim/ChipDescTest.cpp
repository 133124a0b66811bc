//===- ChipDescTest.cpp - Chip description loading and validation ---------===//

#include "gaon/npu_sim/ChipDesc.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace gaon::npu_sim;

namespace {

std::string presetText(const std::string &name) {
  for (const std::string &dir : presetSearchDirs()) {
    std::ifstream file(dir + "/" + name + ".json");
    if (file) {
      std::stringstream text;
      text << file.rdbuf();
      return text.str();
    }
  }
  return "";
}

// Parses the tiny preset after `edit` changed its JSON; returns the error.
template <typename Edit> std::string errorAfter(Edit edit) {
  nlohmann::json chip = nlohmann::json::parse(presetText("tiny"));
  edit(chip);
  try {
    parseChipJson(chip.dump(), "tiny.json");
  } catch (const SimError &error) {
    return error.what();
  }
  return "";
}

} // namespace

TEST(ChipDesc, PresetsLoadByName) {
  ChipDesc rngd = loadChip("rngd");
  EXPECT_EQ(rngd.cores, 8u);
  EXPECT_EQ(rngd.tensor.rows, 128u);
  EXPECT_DOUBLE_EQ(rngd.peakMacsPerCycle(DType::BF16), 16384);
  EXPECT_DOUBLE_EQ(rngd.peakMacsPerCycle(DType::I8), 32768);
  EXPECT_EQ(rngd.scratchpad.bytes, 32ull << 20);
  EXPECT_DOUBLE_EQ(rngd.dram.bandwidthGBps, 1500);
  // 8 cores x 16384 MACs x 2 FLOP x 1 GHz = 262 TFLOPS (RNGD: 256 TFLOPS BF16).
  EXPECT_NEAR(rngd.peakMacsPerCycle(DType::BF16) * rngd.cores * 2 *
                  rngd.clockGhz / 1e3,
              262.1, 0.1);
  ChipDesc atom = loadChip("atom");
  EXPECT_EQ(atom.shared.bytes, 32ull << 20);
  EXPECT_DOUBLE_EQ(atom.peakMacsPerCycle(DType::F16), 2048);
  EXPECT_EQ(loadChip("").name, "rngd"); // no name means rngd
  EXPECT_EQ(loadChip("tiny").cores, 2u);
}

TEST(ChipDesc, Fp32IsEmulatedWhenAbsent) {
  ChipDesc tiny = loadChip("tiny");
  EXPECT_DOUBLE_EQ(tiny.peakMacsPerCycle(DType::F32), 256.0 / 4);
  EXPECT_DOUBLE_EQ(tiny.pjPerMac(DType::F32), 0.6 * 4);
}

TEST(ChipDesc, UnknownPresetListsSearchPath) {
  try {
    loadChip("nosuchchip");
    FAIL();
  } catch (const SimError &error) {
    EXPECT_NE(std::string(error.what()).find("cannot find chip 'nosuchchip'"),
              std::string::npos);
    EXPECT_NE(std::string(error.what()).find("GAON_NPU_PRESETS"),
              std::string::npos);
  }
}

TEST(ChipDesc, NegativeRowsNamesFieldAndValue) {
  EXPECT_EQ(errorAfter([](nlohmann::json &c) {
              c["cores"]["tensor_unit"]["rows"] = -4;
            }),
            "tiny.json: cores.tensor_unit.rows must be an integer in [1, "
            "4096], got -4");
}

TEST(ChipDesc, FieldErrors) {
  EXPECT_EQ(errorAfter([](nlohmann::json &c) { c["cores"]["count"] = 0; }),
            "tiny.json: cores.count must be an integer in [1, 1024], got 0");
  EXPECT_EQ(errorAfter([](nlohmann::json &c) { c["clock_ghz"] = "fast"; }),
            "tiny.json: clock_ghz must be a positive number at most 10, got "
            "\"fast\"");
  EXPECT_EQ(errorAfter([](nlohmann::json &c) { c["dram"].erase("channels"); }),
            "tiny.json: dram.channels is required");
  EXPECT_EQ(errorAfter([](nlohmann::json &c) { c["dram"]["chanels"] = 4; }),
            "tiny.json: unknown field dram.chanels");
  EXPECT_EQ(errorAfter(
                [](nlohmann::json &c) { c["dram"]["interleave_bytes"] = 100; }),
            "tiny.json: dram.interleave_bytes must be a power of two, got 100");
  EXPECT_EQ(errorAfter([](nlohmann::json &c) {
              c["cores"]["tensor_unit"]["macs_per_cycle"]["bf17"] = 1;
            }),
            "tiny.json: cores.tensor_unit.macs_per_cycle.bf17 is not a "
            "tensor-unit dtype (fp32, bf16, fp16, fp8, int8)");
  // Storage-only types have no MAC rate: no tensor unit multiplies them.
  EXPECT_EQ(errorAfter([](nlohmann::json &c) {
              c["cores"]["tensor_unit"]["macs_per_cycle"]["uint8"] = 1;
            }),
            "tiny.json: cores.tensor_unit.macs_per_cycle.uint8 is not a "
            "tensor-unit dtype (fp32, bf16, fp16, fp8, int8)");
  EXPECT_EQ(
      errorAfter([](nlohmann::json &c) {
        c["cores"]["tensor_unit"]["dataflow"] = "row_stationary";
      }),
      "tiny.json: cores.tensor_unit.dataflow must be \"weight_stationary\" or "
      "\"output_stationary\", got \"row_stationary\"");
  EXPECT_EQ(errorAfter([](nlohmann::json &c) {
              c["energy"]["pj_per_mac"].erase("int8");
            }),
            "tiny.json: energy.pj_per_mac.int8 is required because "
            "cores.tensor_unit.macs_per_cycle gives int8");
  EXPECT_EQ(errorAfter([](nlohmann::json &c) {
              c["energy"]["static_watts"] = 50;
            }).substr(0, 41),
            "tiny.json: energy.static_watts (50.000000");
  EXPECT_EQ(errorAfter([](nlohmann::json &c) {
              c["cores"]["vector_unit"]["op_cycles"]["cosine"] = 3;
            }).substr(0, 61),
            "tiny.json: cores.vector_unit.op_cycles.cosine is not a costed");
  EXPECT_EQ(
      errorAfter(
          [](nlohmann::json &c) { c["cores"]["dma"]["bytes_per_cycle"] = -1; }),
      "tiny.json: cores.dma.bytes_per_cycle must be a positive number, got -1");
}

TEST(ChipDesc, NotJson) {
  EXPECT_THROW(parseChipJson("{ not json", "bad.json"), SimError);
}
