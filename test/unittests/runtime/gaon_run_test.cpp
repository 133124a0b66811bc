// End to end: gaon-run on artifacts written by ArtifactWriter; checks its
// JSON report, written outputs, and the exit status of every error case.
#include "gaon/runtime/artifact.h"
#include "gaon/runtime/tensor_io.h"

#include "test_models.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

namespace gaon::rt {
namespace {

using nlohmann::json;
using testing::DiamondOptions;
using testing::makeDiamond;

struct Outcome {
  int exitCode;
  std::string output; // stdout + stderr
};

Outcome runTool(const std::string &arguments) {
  std::string command = std::string(GAON_RUN_PATH) + " " + arguments + " 2>&1";
  FILE *pipe = popen(command.c_str(), "r");
  Outcome outcome{-1, ""};
  if (!pipe)
    return outcome;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), pipe)) > 0)
    outcome.output.append(chunk, n);
  int status = pclose(pipe);
  outcome.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return outcome;
}

class GaonRunTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir = ::testing::TempDir() + "/gaon_run_" + std::to_string(getpid()) + "_" +
          ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::string mk = "mkdir -p " + dir;
    ASSERT_EQ(std::system(mk.c_str()), 0);
    model = dir + "/diamond.gaon";
    ASSERT_TRUE(makeDiamond().writeFile(model).isOk());
  }
  void TearDown() override {
    std::string rm = "rm -rf " + dir;
    (void)std::system(rm.c_str());
  }
  json readJson(const std::string &path) {
    std::ifstream in(path);
    return json::parse(in);
  }
  std::string dir, model;
};

TEST_F(GaonRunTest, RandomInputsAndJsonReport) {
  Outcome out = runTool(model + " --repeat 3 --json " + dir + "/r.json");
  ASSERT_EQ(out.exitCode, 0) << out.output;
  EXPECT_NE(out.output.find("output  y"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("latency median"), std::string::npos);
  json report = readJson(dir + "/r.json");
  EXPECT_EQ(report["status"], "ok");
  EXPECT_EQ(report["target"], "host-ref");
  EXPECT_GT(report["latency_s"].get<double>(), 0);
  EXPECT_EQ(report["latencies_s"].size(), 3u);
  ASSERT_EQ(report["outputs"].size(), 2u);
  EXPECT_EQ(report["outputs"][0]["name"], "y");
  EXPECT_EQ(report["outputs"][0]["dtype"], "f32");
  EXPECT_EQ(report["outputs"][0]["shape"], json::array({1024}));
  const json &memory = report["memory"];
  EXPECT_EQ(memory["weights_bytes"], 4096);
  EXPECT_GT(memory["arena_bytes"].get<uint64_t>(), 0u);
  EXPECT_LE(memory["lower_bound_bytes"].get<uint64_t>(),
            memory["arena_bytes"].get<uint64_t>());
  EXPECT_GT(report["cycles"].get<uint64_t>(), 0u); // host-ref counts cycles
  EXPECT_TRUE(report["energy_j"].is_null());       // but not energy
  EXPECT_EQ(report["dispatches"], 6);
}

TEST_F(GaonRunTest, GivenInputsExpectedOutputsAndOutputDir) {
  std::vector<float> x(1024);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = 0.25f * float(i) - 7;
  HostTensor input{"x", DType::F32, {1024}, testing::floatBytes(x)};
  ASSERT_TRUE(writeNpy(dir + "/x.npy", input).isOk());
  HostTensor y{
      "y", DType::F32, {1024}, testing::floatBytes(testing::diamondY(x, 2))};
  HostTensor z{
      "z", DType::F32, {1024}, testing::floatBytes(testing::diamondZ(x, 2))};
  std::vector<uint8_t> yProto = encodeTensorProto(y);
  ASSERT_TRUE(writeFileAtomically(dir + "/y.pb", yProto).isOk());
  ASSERT_TRUE(writeNpy(dir + "/z.npy", z).isOk());
  Outcome out =
      runTool(model + " --input x=" + dir + "/x.npy --expect y=" + dir +
              "/y.pb --expect z=" + dir + "/z.npy --output-dir " + dir +
              "/out --json " + dir + "/r.json");
  ASSERT_EQ(out.exitCode, 0) << out.output;
  json report = readJson(dir + "/r.json");
  for (const json &output : report["outputs"]) {
    EXPECT_EQ(output["rel_l2"], 0.0);
    EXPECT_EQ(output["max_abs"], 0.0);
    EXPECT_EQ(output["pass"], true);
  }
  auto written = readNpy(dir + "/out/z.npy");
  ASSERT_TRUE(written.isOk());
  EXPECT_EQ(written->data, z.data);

  // A wrong expectation gives exit status 3 and "mismatch".
  z.data[3] ^= 0x40; // an exponent bit: far outside the tolerance
  ASSERT_TRUE(writeNpy(dir + "/z.npy", z).isOk());
  out = runTool(model + " --input " + dir + "/x.npy --expect z=" + dir +
                "/z.npy --json " + dir + "/r.json");
  EXPECT_EQ(out.exitCode, 3) << out.output;
  EXPECT_EQ(readJson(dir + "/r.json")["status"], "mismatch");
}

TEST_F(GaonRunTest, CorruptedArtifactsFailCleanly) {
  std::ifstream in(model, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  auto write = [&](const std::string &name, const std::vector<char> &data) {
    std::ofstream(dir + "/" + name, std::ios::binary)
        .write(data.data(), data.size());
    return dir + "/" + name;
  };
  std::vector<char> truncated(bytes.begin(), bytes.begin() + bytes.size() / 2);
  Outcome out = runTool(write("t.gaon", truncated));
  EXPECT_EQ(out.exitCode, 1);
  EXPECT_NE(out.output.find("truncated"), std::string::npos) << out.output;

  std::vector<char> version = bytes;
  version[8] = 9;
  out = runTool(write("v.gaon", version) + " --json " + dir + "/e.json");
  EXPECT_EQ(out.exitCode, 1);
  EXPECT_NE(out.output.find("unsupported .gaon format version 9"),
            std::string::npos)
      << out.output;
  EXPECT_EQ(readJson(dir + "/e.json")["status"], "error");

  std::vector<char> flipped = bytes;
  flipped[200] ^= 1;
  out = runTool(write("f.gaon", flipped));
  EXPECT_EQ(out.exitCode, 1);
  EXPECT_NE(out.output.find("corrupted artifact"), std::string::npos);

  out = runTool(dir + "/missing.gaon");
  EXPECT_EQ(out.exitCode, 1);
  EXPECT_NE(out.output.find("cannot open"), std::string::npos);
}

TEST_F(GaonRunTest, UnknownTargetNamesTargetAndDrivers) {
  DiamondOptions options;
  options.target = "nosuch:x";
  ASSERT_TRUE(makeDiamond(options).writeFile(dir + "/npu.gaon").isOk());
  Outcome out = runTool(dir + "/npu.gaon");
  EXPECT_EQ(out.exitCode, 1);
  EXPECT_NE(out.output.find("target 'nosuch:x'"), std::string::npos)
      << out.output;
  // Sorted by name; "cuda" comes first where the CUDA backend is built.
  EXPECT_NE(out.output.find("available drivers: "), std::string::npos)
      << out.output;
  EXPECT_NE(out.output.find("host-ref"), std::string::npos) << out.output;
}

TEST_F(GaonRunTest, InputErrorsSayExpectedAndGot) {
  HostTensor small = randomTensor("x", DType::F32, {8}, 1);
  ASSERT_TRUE(writeNpy(dir + "/small.npy", small).isOk());
  Outcome out = runTool(model + " --input x=" + dir + "/small.npy");
  EXPECT_EQ(out.exitCode, 1);
  EXPECT_NE(out.output.find("expected f32 [1024], got f32 [8]"),
            std::string::npos)
      << out.output;

  HostTensor ints = randomTensor("x", DType::I32, {1024}, 1);
  ASSERT_TRUE(writeNpy(dir + "/ints.npy", ints).isOk());
  out = runTool(model + " --input x=" + dir + "/ints.npy");
  EXPECT_EQ(out.exitCode, 1);
  EXPECT_NE(out.output.find("expected f32 [1024], got i32 [1024]"),
            std::string::npos);

  // Two inputs, one given.
  ArtifactWriter writer("two", "host-ref");
  uint32_t a = writer.addInput("a", DType::F32, {4});
  uint32_t b = writer.addInput("b", DType::F32, {4});
  uint32_t c = writer.addOutput("c", DType::F32, {4});
  uint32_t p = writer.addProgram("host-ref", "host-ref", {}, {"add_f32"});
  writer.addDispatch(
      p, {0,
          {{a, Access::Read}, {b, Access::Read}, {c, Access::Write}},
          {},
          {},
          -1});
  ASSERT_TRUE(writer.planMemory(p).isOk());
  ASSERT_TRUE(writer.writeFile(dir + "/two.gaon").isOk());
  ASSERT_TRUE(
      writeNpy(dir + "/a.npy", randomTensor("a", DType::F32, {4}, 2)).isOk());
  out = runTool(dir + "/two.gaon --input a=" + dir + "/a.npy");
  EXPECT_EQ(out.exitCode, 1);
  EXPECT_NE(out.output.find("missing input 'b'"), std::string::npos)
      << out.output;
  out = runTool(dir + "/two.gaon --input nope=" + dir + "/a.npy --input b=" +
                dir + "/a.npy --input a=" + dir + "/a.npy");
  EXPECT_EQ(out.exitCode, 1);
  EXPECT_NE(out.output.find("'nope' is not an input"), std::string::npos);
}

TEST_F(GaonRunTest, OutOfMemoryAndUsageErrors) {
  Outcome out = runTool(model + " --device-option memory_bytes=2048");
  EXPECT_EQ(out.exitCode, 1);
  EXPECT_NE(out.output.find("out of memory"), std::string::npos) << out.output;

  out = runTool(model + " --frobnicate");
  EXPECT_EQ(out.exitCode, 2);
  EXPECT_NE(out.output.find("unknown flag '--frobnicate'"), std::string::npos);
  EXPECT_EQ(runTool(model + " --repeat 0").exitCode, 2);
  EXPECT_EQ(runTool("").exitCode, 2);
  EXPECT_EQ(runTool(model + " other.gaon").exitCode, 2);
  EXPECT_EQ(runTool("--help").exitCode, 0);
}

TEST_F(GaonRunTest, DriverLibraryByPathReportsEnergy) {
  DiamondOptions options;
  options.target = "null";
  ASSERT_TRUE(makeDiamond(options).writeFile(dir + "/null.gaon").isOk());
  Outcome out = runTool(dir + "/null.gaon --json " + dir + "/r.json");
  EXPECT_EQ(out.exitCode, 1); // not registered without --driver-lib
  out = runTool(dir +
                "/null.gaon --driver-lib " GAON_NULL_DRIVER_PATH " --json " +
                dir + "/r.json");
  ASSERT_EQ(out.exitCode, 0) << out.output;
  json report = readJson(dir + "/r.json");
  EXPECT_EQ(report["driver"], "null");
  EXPECT_NEAR(report["energy_j"].get<double>(), 6e-9, 1e-15);
  EXPECT_EQ(report["cycles"], 6);
  out = runTool("--list-drivers --driver-lib " GAON_NULL_DRIVER_PATH);
  EXPECT_NE(out.output.find("null"), std::string::npos);
  out = runTool(model + " --driver-lib /nonexistent.so");
  EXPECT_EQ(out.exitCode, 1);
}

} // namespace
} // namespace gaon::rt
