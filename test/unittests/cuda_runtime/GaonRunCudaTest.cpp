//===- GaonRunCudaTest.cpp - gaon-run on a cuda artifact ------------------===//
//
// Without a GPU: gaon-run prints a clean error naming the reason and exits 1.
// With one: it runs the artifact and its --expect check passes; the JSON
// report has the device and counters.
//
//===----------------------------------------------------------------------===//

#include "CudaTestUtil.h"

#include "gaon/runtime/artifact.h"
#include "gaon/runtime/tensor_io.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

using namespace gaon;
using namespace gaon::cuda;
using namespace gaon::cuda::test;

namespace {

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

/// out = (x + 1 * w) * 2 with the add/scale PTX kernels (see
/// CudaDriverTest.cpp); w is a weight.
const uint32_t kN = 300;

std::vector<uint8_t> addScalePlanBytes() {
  Plan plan;
  plan.arch = "sm_80";
  plan.modules = {kAddPtx, kScalePtx};
  plan.bindingCount = 4;
  LaunchStep add;
  add.module = 0;
  add.kernel = "add_f32";
  add.grid[0] = (kN + 127) / 128;
  add.block[0] = 128;
  add.args = {KernelArg::ptr({0, 0}), KernelArg::ptr({1, 0}),
              KernelArg::ptr({3, 0}), KernelArg::i32(kN), KernelArg::f32(1)};
  LaunchStep scale;
  scale.module = 1;
  scale.kernel = "scale_f32";
  scale.grid[0] = 2;
  scale.block[0] = 256;
  scale.args = {KernelArg::ptr({3, 0}), KernelArg::ptr({2, 0}),
                KernelArg::i64(kN), KernelArg::f32(2)};
  plan.steps = {add, scale};
  return encodePlan(plan);
}

rt::HostTensor f32Tensor(const std::string &name,
                         const std::vector<float> &values) {
  rt::HostTensor t;
  t.name = name;
  t.dtype = rt::DType::F32;
  t.shape = {static_cast<int64_t>(values.size())};
  t.data.resize(values.size() * 4);
  std::memcpy(t.data.data(), values.data(), t.data.size());
  return t;
}

class GaonRunCuda : public ::testing::Test {
protected:
  void SetUp() override {
    dir = ::testing::TempDir() + "/gaon_run_cuda_" + std::to_string(getpid()) +
          "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_EQ(std::system(("mkdir -p " + dir).c_str()), 0);
    model = dir + "/add_scale.gaon";
    rt::ArtifactWriter writer("add_scale", "cuda:sm_80");
    uint32_t x = writer.addInput("x", rt::DType::F32, {kN});
    w = randomFloats(kN, 5);
    uint32_t wId =
        writer.addWeight("w", rt::DType::F32, {kN}, w.data(), kN * 4);
    uint32_t y = writer.addOutput("y", rt::DType::F32, {kN});
    uint32_t tmp = writer.addIntermediate("tmp", rt::DType::F32, {kN});
    uint32_t p = writer.addProgram("cuda:sm_80", kPlanFormat,
                                   addScalePlanBytes(), {"forward"});
    rt::DispatchDesc d;
    d.bindings = {{x, rt::Access::Read},
                  {wId, rt::Access::Read},
                  {y, rt::Access::Write},
                  {tmp, rt::Access::ReadWrite}};
    writer.addDispatch(p, d);
    ASSERT_TRUE(writer.planMemory(p).isOk());
    ASSERT_TRUE(writer.writeFile(model).isOk());

    std::vector<float> xv = randomFloats(kN, 6), yv(kN);
    for (uint32_t i = 0; i < kN; ++i)
      yv[i] = (xv[i] + w[i]) * 2.0f;
    ASSERT_TRUE(rt::writeNpy(dir + "/x.npy", f32Tensor("x", xv)).isOk());
    ASSERT_TRUE(rt::writeNpy(dir + "/y.npy", f32Tensor("y", yv)).isOk());
  }
  void TearDown() override { (void)std::system(("rm -rf " + dir).c_str()); }

  std::string dir, model;
  std::vector<float> w;
};

TEST_F(GaonRunCuda, ListsTheCudaDriver) {
  Outcome o = runTool("--list-drivers");
  EXPECT_EQ(o.exitCode, 0) << o.output;
  EXPECT_NE(o.output.find("cuda\n"), std::string::npos) << o.output;
}

TEST_F(GaonRunCuda, WithoutGpuFailsCleanly) {
  rt::Status available = cudaAvailable();
  if (available.isOk())
    GTEST_SKIP() << "this machine has a GPU";
  Outcome o = runTool(model + " --json " + dir + "/report.json");
  EXPECT_EQ(o.exitCode, 1) << o.output;
  EXPECT_EQ(o.output.rfind("gaon-run: error: ", 0), 0u) << o.output;
  EXPECT_NE(o.output.find(available.message()), std::string::npos) << o.output;
  std::ifstream in(dir + "/report.json");
  nlohmann::json report = nlohmann::json::parse(in);
  EXPECT_EQ(report["status"], "error");
  EXPECT_NE(report["error"].get<std::string>().find(available.message()),
            std::string::npos);
}

TEST_F(GaonRunCuda, RunsAndMatchesOnAGpu) {
  GAON_REQUIRE_GPU();
  Outcome o = runTool(model + " --input x=" + dir + "/x.npy --expect y=" + dir +
                      "/y.npy --repeat 5 --json " + dir + "/report.json");
  EXPECT_EQ(o.exitCode, 0) << o.output;
  EXPECT_NE(o.output.find("PASS"), std::string::npos) << o.output;
  std::ifstream in(dir + "/report.json");
  nlohmann::json report = nlohmann::json::parse(in);
  EXPECT_EQ(report["status"], "ok");
  EXPECT_EQ(report["driver"], "cuda");
  EXPECT_EQ(report["dispatches"], 1);
}

TEST_F(GaonRunCuda, DeviceOptionsReachTheDriver) {
  Outcome o = runTool(model + " --device-option graphz=0");
  EXPECT_EQ(o.exitCode, 1) << o.output;
  EXPECT_NE(o.output.find("unknown device option 'graphz'"), std::string::npos)
      << o.output;
}

} // namespace
