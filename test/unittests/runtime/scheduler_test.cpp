// Modules and the scheduler on host-ref: correct results, DAGs over several
// queues, hazards without explicit dependencies, several tenants at once
// (deterministic), partition placement, failures and out-of-memory.
#include "gaon/runtime/registry.h"
#include "gaon/runtime/scheduler.h"

#include "test_models.h"

#include <gtest/gtest.h>

#include <thread>

namespace gaon::rt {
namespace {

using namespace testing;

std::shared_ptr<const Artifact> load(const ArtifactWriter &writer) {
  auto bytes = writer.serialize();
  EXPECT_TRUE(bytes.isOk()) << bytes.status().toString();
  auto artifact = ArtifactReader::readBytes(bytes.value());
  EXPECT_TRUE(artifact.isOk()) << artifact.status().toString();
  return artifact.value();
}

std::shared_ptr<Device> hostRef(const DeviceOptions &options = {}) {
  auto device = DriverRegistry::global().createDevice("host-ref", 0, options);
  EXPECT_TRUE(device.isOk());
  return device.value();
}

HostTensor input(const std::vector<float> &values) {
  HostTensor t;
  t.name = "x";
  t.dtype = DType::F32;
  t.shape = {static_cast<int64_t>(values.size())};
  t.data = floatBytes(values);
  return t;
}

std::vector<float> ramp(size_t n, float start) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = start + float(i);
  return v;
}

TEST(ModuleTest, DiamondComputesTheRightValues) {
  for (uint32_t queues : {1u, 2u, 4u}) {
    DiamondOptions options;
    options.elements = 256;
    options.sleepMicros = 2000;
    auto artifact = load(makeDiamond(options));
    ModuleOptions moduleOptions;
    moduleOptions.queueCount = queues;
    auto module = Module::load(hostRef(), artifact, moduleOptions);
    ASSERT_TRUE(module.isOk()) << module.status().toString();
    EXPECT_EQ(module.value()->queueCount(), queues);
    std::vector<float> x = ramp(256, -3);
    RunStats stats;
    auto outputs = module.value()->run({input(x)}, &stats);
    ASSERT_TRUE(outputs.isOk()) << outputs.status().toString();
    ASSERT_EQ(outputs->size(), 2u);
    EXPECT_EQ(bytesToFloats((*outputs)[0].data), diamondY(x, 2.0f));
    EXPECT_EQ(bytesToFloats((*outputs)[1].data), diamondZ(x, 2.0f));
    EXPECT_EQ(stats.counters.dispatches, 6u);
    EXPECT_GT(stats.counters.cycles, 0u);
  }
}

TEST(ModuleTest, IndependentBranchesUseSeveralQueues) {
  auto artifact = load(makeDiamond());
  ModuleOptions options;
  options.queueCount = 2;
  auto module = Module::load(hostRef(), artifact, options);
  ASSERT_TRUE(module.isOk());
  const auto &queueOf = module.value()->dispatchQueues();
  // The two branches after dispatch 0 land on different queues.
  EXPECT_NE(queueOf[1], queueOf[2]);
}

TEST(ModuleTest, HazardsOrderDispatchesWithoutExplicitDependencies) {
  DiamondOptions options;
  options.explicitDependencies = false;
  options.sleepMicros = 3000; // make a race visible if ordering were wrong
  auto artifact = load(makeDiamond(options));
  ModuleOptions moduleOptions;
  moduleOptions.queueCount = 4;
  auto module = Module::load(hostRef(), artifact, moduleOptions);
  ASSERT_TRUE(module.isOk());
  // add(scaled, negated) -> y must follow both producers.
  const auto &deps = module.value()->dispatchDependencies()[4];
  EXPECT_NE(std::find(deps.begin(), deps.end(), 1u), deps.end());
  EXPECT_NE(std::find(deps.begin(), deps.end(), 3u), deps.end());
  std::vector<float> x = ramp(1024, 1);
  for (int run = 0; run < 5; ++run) {
    auto outputs = module.value()->run({input(x)});
    ASSERT_TRUE(outputs.isOk());
    EXPECT_EQ(bytesToFloats((*outputs)[0].data), diamondY(x, 2.0f));
  }
}

TEST(ModuleTest, InputChecksNameExpectedAndGot) {
  auto module = Module::load(hostRef(), load(makeDiamond()));
  ASSERT_TRUE(module.isOk());
  auto missing = module.value()->run({});
  ASSERT_FALSE(missing.isOk());
  EXPECT_NE(missing.status().message().find("missing input 'x'"),
            std::string::npos);
  HostTensor wrong = input(ramp(8, 0));
  auto shape = module.value()->run({wrong});
  ASSERT_FALSE(shape.isOk());
  EXPECT_NE(shape.status().message().find("expected f32 [1024], got f32 [8]"),
            std::string::npos)
      << shape.status().message();
  HostTensor extra = input(ramp(1024, 0));
  extra.name = "nope";
  EXPECT_FALSE(module.value()->run({input(ramp(1024, 0)), extra}).isOk());
}

TEST(ModuleTest, OutOfMemoryAtLoadIsClean) {
  auto device = hostRef({{"memory_bytes", "4096"}});
  auto module = Module::load(device, load(makeDiamond()));
  ASSERT_FALSE(module.isOk());
  EXPECT_EQ(module.status().code(), StatusCode::OutOfMemory);
  EXPECT_EQ(device->allocator().stats().bytesInUse, 0u);
}

TEST(ModuleTest, KernelFailureIsReportedAndTheModuleRecovers) {
  ArtifactWriter writer("failing", "host-ref");
  uint32_t x = writer.addInput("x", DType::F32, {4});
  uint32_t y = writer.addOutput("y", DType::F32, {4});
  uint32_t p = writer.addProgram("host-ref", "host-ref", {}, {"copy", "fail"});
  writer.addDispatch(p,
                     {0, {{x, Access::Read}, {y, Access::Write}}, {}, {}, -1});
  writer.addDispatch(p, {1, {}, {0}, {}, -1});
  ASSERT_TRUE(writer.planMemory(p).isOk());
  auto module = Module::load(hostRef(), load(writer));
  ASSERT_TRUE(module.isOk());
  HostTensor in = input({1, 2, 3, 4});
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto result = module.value()->run({in});
    ASSERT_FALSE(result.isOk());
    EXPECT_EQ(result.status().code(), StatusCode::Aborted);
    EXPECT_NE(result.status().message().find("fail"), std::string::npos);
  }
}

TEST(ModuleTest, MissingProgramForTarget) {
  ModuleOptions options;
  options.target = "cuda:sm_90";
  ArtifactWriter writer = makeDiamond();
  writer.mutableModel().target = "cuda:sm_90";
  writer.mutableModel().programs[0].target = "cuda:sm_90";
  auto module = Module::load(hostRef(), load(writer), options);
  ASSERT_FALSE(module.isOk());
  EXPECT_NE(module.status().message().find("cuda:sm_90"), std::string::npos);
}

// Runs every tenant alone and sequentially, then all at once from several
// threads, many times: the outputs must be identical bit for bit.
TEST(SchedulerTest, TenantsShareADeviceDeterministically) {
  auto device = hostRef({{"partitions", "2"}, {"queues_per_partition", "3"}});
  DeviceScheduler scheduler(device);
  const int tenants = 4;
  std::vector<std::shared_ptr<Module>> modules;
  for (int t = 0; t < tenants; ++t) {
    ModuleOptions options;
    options.queueCount = 3;
    auto module = scheduler.load(
        load(makeWide(3 + t, 4, 100 + t, 128, "wide" + std::to_string(t))),
        options);
    ASSERT_TRUE(module.isOk()) << module.status().toString();
    modules.push_back(module.value());
  }
  // Placement: round robin by load over the two partitions.
  EXPECT_EQ(scheduler.partitionLoad(), (std::vector<uint32_t>{2, 2}));
  EXPECT_EQ(modules[0]->partition(), 0u);
  EXPECT_EQ(modules[1]->partition(), 1u);

  std::vector<std::vector<uint8_t>> reference(tenants);
  for (int t = 0; t < tenants; ++t) {
    HostTensor x = input(ramp(128, float(t)));
    auto out = modules[t]->run({x});
    ASSERT_TRUE(out.isOk()) << out.status().toString();
    reference[t] = (*out)[0].data;
  }
  std::vector<std::thread> threads;
  std::vector<int> mismatches(tenants, 0);
  for (int t = 0; t < tenants; ++t) {
    threads.emplace_back([&, t] {
      HostTensor x = input(ramp(128, float(t)));
      for (int repeat = 0; repeat < 5; ++repeat) {
        auto out = modules[t]->run({x});
        if (!out.isOk() || (*out)[0].data != reference[t])
          ++mismatches[t];
      }
    });
  }
  for (std::thread &thread : threads)
    thread.join();
  for (int t = 0; t < tenants; ++t)
    EXPECT_EQ(mismatches[t], 0) << "tenant " << t;

  // Unloading frees the partition for the next tenant.
  modules[0].reset();
  modules[2].reset();
  EXPECT_EQ(scheduler.partitionLoad(), (std::vector<uint32_t>{0, 2}));
  auto next = scheduler.load(load(makeDiamond()));
  ASSERT_TRUE(next.isOk());
  EXPECT_EQ(next.value()->partition(), 0u);
}

TEST(SchedulerTest, ConcurrentRunsOfOneModuleAreSerialized) {
  auto module = Module::load(hostRef(), load(makeWide(4, 3, 9, 64)));
  ASSERT_TRUE(module.isOk());
  std::shared_ptr<Module> shared(std::move(module.value()));
  auto reference = shared->run({input(ramp(64, 0))});
  ASSERT_TRUE(reference.isOk());
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int r = 0; r < 3; ++r) {
        auto out = shared->run({input(ramp(64, 0))});
        if (!out.isOk() || (*out)[0].data != (*reference)[0].data)
          ++mismatches;
      }
    });
  for (auto &thread : threads)
    thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

} // namespace
} // namespace gaon::rt
