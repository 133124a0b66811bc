// gaon-run end to end on the npu-sim driver: target npu-sim:tiny picks the
// chip, --expect passes, the JSON report has cycles, energy and the
// simulator's device_report; device options reach the driver.
#include "gaon/runtime/tensor_io.h"

#include "linear_model.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

namespace gaon::npu_sim_runtime {
namespace {

using namespace testing;
using nlohmann::json;

struct Outcome {
  int exitCode;
  std::string output;
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

rt::HostTensor tensor(const std::string &name, std::vector<int64_t> shape,
                      const std::vector<float> &values) {
  rt::HostTensor t;
  t.name = name;
  t.dtype = rt::DType::F32;
  t.shape = std::move(shape);
  t.data.resize(values.size() * 4);
  std::memcpy(t.data.data(), values.data(), t.data.size());
  return t;
}

class GaonRunNpuSim : public ::testing::Test {
protected:
  void SetUp() override {
    dir = ::testing::TempDir() + "/gaon_run_npu_" + std::to_string(getpid()) +
          "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_EQ(std::system(("mkdir -p " + dir).c_str()), 0);
    model = dir + "/linear.gaon";
    ASSERT_TRUE(makeLinearArtifact(spec).writeFile(model).isOk());
    std::vector<float> x = linearInput(spec, 1.5f);
    ASSERT_TRUE(
        rt::writeNpy(dir + "/x.npy", tensor("x", {spec.m, spec.k}, x)).isOk());
    ASSERT_TRUE(rt::writeNpy(dir + "/y.npy", tensor("y", {spec.m, spec.n},
                                                    linearReference(spec, x)))
                    .isOk());
    std::vector<float> wrong = linearReference(spec, x);
    wrong[5] += 1.0f;
    ASSERT_TRUE(
        rt::writeNpy(dir + "/wrong.npy", tensor("y", {spec.m, spec.n}, wrong))
            .isOk());
  }
  void TearDown() override { (void)std::system(("rm -rf " + dir).c_str()); }
  json readJson(const std::string &path) {
    std::ifstream in(path);
    return json::parse(in);
  }
  LinearSpec spec;
  std::string dir, model;
};

TEST_F(GaonRunNpuSim, ExpectPassesAndReportsDeviceCounters) {
  Outcome out =
      runTool(model + " --input x=" + dir + "/x.npy --expect y=" + dir +
              "/y.npy --repeat 3 --json " + dir + "/r.json");
  ASSERT_EQ(out.exitCode, 0) << out.output;
  EXPECT_NE(out.output.find("PASS"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("cycles"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("energy"), std::string::npos) << out.output;
  json report = readJson(dir + "/r.json");
  EXPECT_EQ(report["status"], "ok");
  EXPECT_EQ(report["driver"], "npu-sim");
  EXPECT_EQ(report["device"], "npu-sim:tiny");
  EXPECT_GT(report["cycles"].get<uint64_t>(), 0u);
  EXPECT_GT(report["energy_j"].get<double>(), 0.0);
  EXPECT_EQ(report["dispatches"], 1);
  ASSERT_TRUE(report["outputs"][0]["pass"].get<bool>());
  const json &device = report["device_report"];
  ASSERT_TRUE(device.is_object()) << report.dump(2);
  EXPECT_EQ(device["chip"], "tiny");
  EXPECT_EQ(device["driver"]["mode"], "functional");
  // The third run copied only x: W and b were already in simulated DRAM.
  EXPECT_EQ(device["driver"]["bindings_skipped"], 2);
  EXPECT_EQ(device["driver"]["bytes_copied_in"], spec.m * spec.k * 4);
}

TEST_F(GaonRunNpuSim, MismatchExitsThree) {
  Outcome out = runTool(model + " --input x=" + dir +
                        "/x.npy --expect y=" + dir + "/wrong.npy");
  EXPECT_EQ(out.exitCode, 3) << out.output;
}

TEST_F(GaonRunNpuSim, DeviceOptionsReachTheDriver) {
  std::string trace = dir + "/trace.json";
  Outcome out =
      runTool(model + " --device-option timing-only=1 " +
              "--device-option trace=" + trace + " --json " + dir + "/r.json");
  ASSERT_EQ(out.exitCode, 0) << out.output;
  json report = readJson(dir + "/r.json");
  EXPECT_EQ(report["device_report"]["driver"]["mode"], "timing-only");
  EXPECT_GT(report["cycles"].get<uint64_t>(), 0u);
  std::ifstream in(trace);
  EXPECT_TRUE(in.good());

  out = runTool(model + " --device-option chip=atom");
  EXPECT_EQ(out.exitCode, 1) << out.output;
  EXPECT_NE(out.output.find("compiled for chip 'tiny'"), std::string::npos)
      << out.output;
  out = runTool(model + " --device-option bogus=1");
  EXPECT_EQ(out.exitCode, 1) << out.output;
  EXPECT_NE(out.output.find("unknown device option 'bogus'"), std::string::npos)
      << out.output;
}

TEST_F(GaonRunNpuSim, ListsTheDriver) {
  Outcome out = runTool("--list-drivers");
  EXPECT_EQ(out.exitCode, 0);
  EXPECT_NE(out.output.find("npu-sim"), std::string::npos) << out.output;
}

} // namespace
} // namespace gaon::npu_sim_runtime
