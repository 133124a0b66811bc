//===- CudaDriverTest.cpp - The cuda driver: devices, launches, errors ----===//
//
// Without a GPU (the build machine): device creation fails cleanly with
// UNAVAILABLE and the reason, options are checked, the driver registers.
// With a GPU (skipped otherwise): hand-written PTX kernels through a plan,
// copies, graph replay with old and new data, out of memory, arch mismatch,
// PTX and binding errors, a whole artifact through Module::run.
//
//===----------------------------------------------------------------------===//

#include "CudaTestUtil.h"

#include "gaon/runtime/artifact.h"
#include "gaon/runtime/scheduler.h"

using namespace gaon;
using namespace gaon::cuda;
using namespace gaon::cuda::test;

namespace {

bool contains(const std::string &text, const std::string &needle) {
  return text.find(needle) != std::string::npos;
}

// ---------------------------------------------------------------------------
// Everywhere

TEST(CudaDriver, RegistersAsCudaForCudaTargets) {
  rt::DriverRegistry registry;
  ASSERT_TRUE(registerCudaDriver(registry).isOk());
  ASSERT_TRUE(registerCudaDriver(registry).isOk()); // twice is fine
  EXPECT_TRUE(registry.contains("cuda"));
  EXPECT_EQ(rt::DriverRegistry::driverNameForTarget("cuda:sm_90"), "cuda");
  // Whatever the machine, the target finds the driver: never "no driver".
  auto device = registry.createDeviceForTarget("cuda:sm_90");
  if (!device.isOk()) {
    EXPECT_FALSE(contains(device.status().message(), "no registered driver"))
        << device.status().message();
  }
}

TEST(CudaDriver, WithoutGpuDeviceCreationIsUnavailable) {
  rt::Status available = cudaAvailable();
  if (available.isOk())
    GTEST_SKIP() << "this machine has a GPU";
  EXPECT_EQ(available.code(), rt::StatusCode::Unavailable);
  rt::DriverRegistry registry;
  ASSERT_TRUE(registerCudaDriver(registry).isOk());
  auto device = registry.createDevice("cuda");
  ASSERT_FALSE(device.isOk());
  EXPECT_EQ(device.status().code(), rt::StatusCode::Unavailable);
  const std::string &message = device.status().message();
  EXPECT_TRUE(contains(message, "cuda: ")) << message;
  // "no CUDA driver: libcuda.so.1 not found", "cuInit failed: ...NO_DEVICE"
  // or "the CUDA driver sees no GPU".
  EXPECT_TRUE(contains(message, "driver") || contains(message, "cuInit"))
      << message;
  // The registry prefixes "creating device 0 of driver 'cuda': ".
  EXPECT_TRUE(contains(message, available.message())) << message;
  // And again: the failed load is remembered, not retried into a crash.
  auto again = registry.createDevice("cuda");
  ASSERT_FALSE(again.isOk());
  EXPECT_EQ(again.status().message(), message);
}

TEST(CudaDriver, DeviceOptionsAreChecked) {
  rt::DriverRegistry registry;
  ASSERT_TRUE(registerCudaDriver(registry).isOk());
  auto device = registry.createDevice("cuda", 0, {{"graph", "1"}});
  ASSERT_FALSE(device.isOk());
  EXPECT_EQ(device.status().code(), rt::StatusCode::InvalidArgument);
  EXPECT_TRUE(contains(device.status().message(),
                       "unknown device option 'graph' (known: graphs"))
      << device.status().message();
  device = registry.createDevice("cuda", 0, {{"graphs", "maybe"}});
  ASSERT_FALSE(device.isOk());
  EXPECT_TRUE(contains(device.status().message(), "graphs must be 0 or 1"));
  device = registry.createDevice("cuda", 0, {{"workspace_mb", "-1"}});
  ASSERT_FALSE(device.isOk());
  EXPECT_TRUE(contains(device.status().message(), "workspace_mb"));
}

// ---------------------------------------------------------------------------
// On a GPU

/// Module 0: add_f32; module 1: scale_f32. Bindings: a, b, out, tmp.
Plan addScalePlan(uint32_t n, float alpha, float factor) {
  Plan plan;
  plan.arch = "sm_80";
  plan.modules = {kAddPtx, kScalePtx};
  plan.bindingCount = 4;
  LaunchStep add;
  add.module = 0;
  add.kernel = "add_f32";
  add.grid[0] = (n + 127) / 128;
  add.block[0] = 128;
  add.args = {KernelArg::ptr({0, 0}), KernelArg::ptr({1, 0}),
              KernelArg::ptr({3, 0}), KernelArg::i32(static_cast<int32_t>(n)),
              KernelArg::f32(alpha)};
  LaunchStep scale;
  scale.module = 1;
  scale.kernel = "scale_f32";
  scale.grid[0] = (n + 255) / 256;
  scale.block[0] = 256;
  scale.args = {KernelArg::ptr({3, 0}), KernelArg::ptr({2, 0}),
                KernelArg::i64(n), KernelArg::f32(factor)};
  plan.steps = {add, scale};
  return plan;
}

std::vector<float> addScaleReference(const std::vector<float> &a,
                                     const std::vector<float> &b, float alpha,
                                     float scale) {
  std::vector<float> out(a.size());
  for (size_t i = 0; i < a.size(); ++i)
    out[i] = std::fma(alpha, b[i], a[i]) * scale;
  return out;
}

struct AddScaleBuffers {
  std::unique_ptr<rt::Buffer> a, b, out, tmp;
};

class CudaGpu : public ::testing::Test {
protected:
  void SetUp() override {
    GAON_REQUIRE_GPU();
    ASSERT_TRUE(h.createDevice(options).isOk());
  }
  rt::DeviceOptions options;
  PlanHarness h;

  AddScaleBuffers addScaleBuffers(uint32_t n) {
    AddScaleBuffers buffers;
    buffers.a = std::move(h.buffer(n * 4).value());
    buffers.b = std::move(h.buffer(n * 4).value());
    buffers.out = std::move(h.buffer(n * 4 + 512).value());
    buffers.tmp = std::move(h.buffer(n * 4).value());
    return buffers;
  }
  std::vector<float> read(rt::Buffer &buffer, size_t n, uint64_t offset = 0) {
    std::vector<float> v(n);
    EXPECT_TRUE(buffer.read(offset, v.data(), n * 4).isOk());
    return v;
  }
};

TEST_F(CudaGpu, DevicePropertiesNameTheGpu) {
  const rt::DeviceProperties &props = h.device().properties();
  EXPECT_FALSE(props.name.empty());
  EXPECT_GT(props.memoryBytes, 1ull << 30);
  EXPECT_TRUE(props.supports(rt::DType::F32));
  EXPECT_TRUE(props.supports(rt::DType::F16));
  EXPECT_TRUE(props.supports(rt::DType::BF16));
  EXPECT_TRUE(props.supports(rt::DType::I64));
  CudaDeviceStats stats = h.stats();
  EXPECT_GE(stats.computeMajor, 7);
  if (!stats.reportsEnergy)
    std::printf("energy not reported: %s\n",
                stats.energyUnavailableReason.c_str());
}

TEST_F(CudaGpu, BuffersStartZeroedAndRoundTrip) {
  auto buffer = h.buffer(4096);
  ASSERT_TRUE(buffer.isOk());
  std::vector<uint8_t> bytes(4096, 0xff);
  ASSERT_TRUE((*buffer)->read(0, bytes.data(), bytes.size()).isOk());
  for (uint8_t b : bytes)
    ASSERT_EQ(b, 0);
  std::vector<float> v = randomFloats(100, 1);
  ASSERT_TRUE((*buffer)->write(40, v.data(), 400).isOk());
  EXPECT_EQ(read(**buffer, 100, 40), v);
  // Empty buffers are fine.
  EXPECT_TRUE(h.buffer(0).isOk());
}

TEST_F(CudaGpu, HandWrittenPtxKernelsThroughAPlan) {
  const uint32_t n = 1000;
  ASSERT_TRUE(h.load(addScalePlan(n, 0.5f, 3.0f)).isOk());
  AddScaleBuffers buf = addScaleBuffers(n);
  std::vector<float> a = randomFloats(n, 1), b = randomFloats(n, 2);
  ASSERT_TRUE(buf.a->write(0, a.data(), n * 4).isOk());
  ASSERT_TRUE(buf.b->write(0, b.data(), n * 4).isOk());
  // The output binding starts 256 bytes into its buffer.
  rt::Status status = h.run({{buf.a.get()},
                             {buf.b.get()},
                             {buf.out.get(), 256, n * 4},
                             {buf.tmp.get()}});
  ASSERT_TRUE(status.isOk()) << status.toString();
  EXPECT_EQ(read(*buf.out, n, 256), addScaleReference(a, b, 0.5f, 3.0f));
  // Nothing outside the binding was written.
  std::vector<float> before = read(*buf.out, 64, 0);
  for (float x : before)
    EXPECT_EQ(x, 0.0f);

  auto counters = h.queue().counters();
  ASSERT_TRUE(counters.isOk());
  EXPECT_EQ(counters->dispatches, 1u);
  EXPECT_GT(counters->busyS, 0.0);
  EXPECT_GE(counters->energyJ, 0.0);
}

TEST_F(CudaGpu, GraphReplayMatchesEagerAndSeesNewData) {
  const uint32_t n = 4096;
  ASSERT_TRUE(h.load(addScalePlan(n, -1.5f, 0.25f)).isOk());
  AddScaleBuffers buf = addScaleBuffers(n);
  std::vector<float> a = randomFloats(n, 3), b = randomFloats(n, 4);
  ASSERT_TRUE(buf.a->write(0, a.data(), n * 4).isOk());
  ASSERT_TRUE(buf.b->write(0, b.data(), n * 4).isOk());
  std::vector<Bound> bindings = {
      {buf.a.get()}, {buf.b.get()}, {buf.out.get(), 0, n * 4}, {buf.tmp.get()}};
  std::vector<float> expected = addScaleReference(a, b, -1.5f, 0.25f);

  std::vector<float> first, third;
  for (int run = 0; run < 3; ++run) {
    // Clear the output so that a replay that did nothing would show.
    std::vector<float> zeros(n, 0.0f);
    ASSERT_TRUE(buf.out->write(0, zeros.data(), n * 4).isOk());
    ASSERT_TRUE(h.run(bindings).isOk()) << "run " << run;
    (run == 0 ? first : third) = read(*buf.out, n);
  }
  EXPECT_EQ(first, expected);
  EXPECT_EQ(third, first);
  CudaDeviceStats stats = h.stats();
  EXPECT_EQ(stats.eagerRuns, 1u);
  EXPECT_EQ(stats.graphCaptures, 1u);
  EXPECT_EQ(stats.graphLaunches, 2u);
  EXPECT_EQ(stats.graphFallbacks, 0u);

  // New input data, same buffers: the graph reads it.
  std::vector<float> a2 = randomFloats(n, 5), b2 = randomFloats(n, 6);
  ASSERT_TRUE(buf.a->write(0, a2.data(), n * 4).isOk());
  ASSERT_TRUE(buf.b->write(0, b2.data(), n * 4).isOk());
  ASSERT_TRUE(h.run(bindings).isOk());
  EXPECT_EQ(read(*buf.out, n), addScaleReference(a2, b2, -1.5f, 0.25f));
  EXPECT_EQ(h.stats().graphLaunches, 3u);

  // Other buffers: a new address set starts eagerly again.
  AddScaleBuffers other = addScaleBuffers(n);
  ASSERT_TRUE(other.a->write(0, a.data(), n * 4).isOk());
  ASSERT_TRUE(other.b->write(0, b.data(), n * 4).isOk());
  ASSERT_TRUE(h.run({{other.a.get()},
                     {other.b.get()},
                     {other.out.get(), 0, n * 4},
                     {other.tmp.get()}})
                  .isOk());
  EXPECT_EQ(read(*other.out, n), expected);
  EXPECT_EQ(h.stats().eagerRuns, 2u);
}

class CudaGpuNoGraphs : public CudaGpu {
protected:
  CudaGpuNoGraphs() { options = {{"graphs", "0"}, {"sync_steps", "1"}}; }
};

TEST_F(CudaGpuNoGraphs, GraphsOffRunsEagerlyEveryTime) {
  const uint32_t n = 333;
  ASSERT_TRUE(h.load(addScalePlan(n, 2.0f, 1.0f)).isOk());
  AddScaleBuffers buf = addScaleBuffers(n);
  std::vector<float> a = randomFloats(n, 7), b = randomFloats(n, 8);
  ASSERT_TRUE(buf.a->write(0, a.data(), n * 4).isOk());
  ASSERT_TRUE(buf.b->write(0, b.data(), n * 4).isOk());
  for (int run = 0; run < 3; ++run)
    ASSERT_TRUE(h.run({{buf.a.get()},
                       {buf.b.get()},
                       {buf.out.get(), 0, n * 4},
                       {buf.tmp.get()}})
                    .isOk());
  EXPECT_EQ(read(*buf.out, n), addScaleReference(a, b, 2.0f, 1.0f));
  CudaDeviceStats stats = h.stats();
  EXPECT_EQ(stats.eagerRuns, 3u);
  EXPECT_EQ(stats.graphCaptures, 0u);
  EXPECT_EQ(stats.graphLaunches, 0u);
}

TEST_F(CudaGpu, CopySteps) {
  Plan plan;
  plan.bindingCount = 2;
  plan.steps = {CopyStep{{0, 8}, {1, 0}, 400}, CopyStep{{0, 0}, {1, 400}, 0}};
  ASSERT_TRUE(h.load(plan).isOk());
  auto src = h.buffer(512), dst = h.buffer(512);
  std::vector<float> v = randomFloats(128, 9);
  ASSERT_TRUE((*src)->write(0, v.data(), 512).isOk());
  ASSERT_TRUE(h.run({{src->get()}, {dst->get()}}).isOk());
  std::vector<float> got = read(**dst, 100);
  EXPECT_EQ(got, std::vector<float>(v.begin() + 2, v.begin() + 102));
}

TEST_F(CudaGpu, OutOfMemoryIsCleanAndNamesTheSize) {
  // Through the driver directly: the runtime's allocator would refuse a
  // petabyte itself, before asking the driver.
  gaon_buffer_params_t params = {};
  params.size = 1ull << 50;
  gaon_buffer_t *raw = nullptr;
  gaon_status_code_t code =
      h.device().vtable().buffer_allocate(h.device().handle(), &params, &raw);
  ASSERT_EQ(code, GAON_OUT_OF_MEMORY);
  std::string message = gaon_last_error_message();
  EXPECT_TRUE(contains(message, "out of device memory")) << message;
  EXPECT_TRUE(contains(message, "1125899906842624 bytes")) << message;
  EXPECT_TRUE(contains(message, "free of")) << message;

  // And through the allocator: OutOfMemory too.
  auto buffer = h.buffer(1ull << 50);
  ASSERT_FALSE(buffer.isOk());
  EXPECT_EQ(buffer.status().code(), rt::StatusCode::OutOfMemory);
  // The device still works.
  EXPECT_TRUE(h.buffer(1 << 20).isOk());
}

TEST_F(CudaGpu, ArchMismatchIsAFailedPrecondition) {
  Plan plan = addScalePlan(16, 1.0f, 1.0f);
  plan.arch = "sm_999";
  rt::Status status = h.load(plan);
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.code(), rt::StatusCode::FailedPrecondition);
  EXPECT_TRUE(contains(status.message(),
                       "the artifact was compiled for sm_999, this device is "
                       "sm_"))
      << status.message();
  EXPECT_TRUE(contains(status.message(), h.device().properties().name))
      << status.message();
}

TEST_F(CudaGpu, OlderArchPtxRuns) {
  Plan plan = addScalePlan(16, 1.0f, 1.0f);
  plan.arch = "sm_70"; // the PTX targets sm_80, but the plan may say less
  EXPECT_TRUE(h.load(plan).isOk());
}

TEST_F(CudaGpu, BadPtxReportsTheJitLog) {
  Plan plan = addScalePlan(16, 1.0f, 1.0f);
  plan.modules[1] = ".version 8.0\n.target sm_80\n.address_size 64\n"
                    ".visible .entry broken() { bogus.instruction; }\n";
  rt::Status status = h.load(plan);
  ASSERT_FALSE(status.isOk());
  EXPECT_TRUE(contains(status.message(), "loading PTX module 1"))
      << status.message();
  EXPECT_TRUE(contains(status.message(), "cuModuleLoadDataEx"))
      << status.message();
  EXPECT_TRUE(contains(status.message(), "JIT log")) << status.message();
}

TEST_F(CudaGpu, MissingKernelIsNotFound) {
  Plan plan = addScalePlan(16, 1.0f, 1.0f);
  std::get<LaunchStep>(plan.steps[1]).kernel = "scale_f64";
  rt::Status status = h.load(plan);
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.code(), rt::StatusCode::NotFound);
  EXPECT_TRUE(contains(status.message(), "step 1 (launch scale_f64 (module 1)"))
      << status.message();
  EXPECT_TRUE(contains(status.message(), "has no kernel 'scale_f64'"))
      << status.message();
}

TEST_F(CudaGpu, ShortOrMissingBindingsAreRefusedAtSubmit) {
  Plan plan;
  plan.bindingCount = 2;
  plan.steps = {CopyStep{{0, 0}, {1, 100}, 400}};
  ASSERT_TRUE(h.load(plan).isOk());
  auto src = h.buffer(512), dst = h.buffer(512);
  rt::Status status = h.run({{src->get()}, {dst->get(), 0, 256}});
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.code(), rt::StatusCode::InvalidArgument);
  EXPECT_TRUE(contains(status.message(),
                       "binding 1 is 256 bytes but step 0 (copy 400 bytes "
                       "b0+0 -> b1+100) reaches byte 500"))
      << status.message();
  status = h.run({{src->get()}});
  ASSERT_FALSE(status.isOk());
  EXPECT_TRUE(contains(status.message(), "binds 1 buffers but the plan has 2"))
      << status.message();
}

TEST_F(CudaGpu, WrongFormatOrEntriesAreRefused) {
  std::vector<uint8_t> bytes = encodePlan(Plan());
  rt::ExecutableSpec spec;
  spec.target = "cuda:sm_90";
  spec.format = "ptx";
  spec.data = bytes.data();
  spec.size = bytes.size();
  spec.entryNames = {"forward"};
  auto exe = h.device().loadExecutable(spec);
  ASSERT_FALSE(exe.isOk());
  EXPECT_TRUE(contains(exe.status().message(), "is not 'cuda-plan'"));
  spec.format = kPlanFormat;
  bytes[0] = 'X';
  exe = h.device().loadExecutable(spec);
  ASSERT_FALSE(exe.isOk());
  EXPECT_EQ(exe.status().code(), rt::StatusCode::DataLoss);
}

// A whole artifact through the scheduler: Module::load uploads, the driver
// runs the plan, Module::run reads the outputs.
TEST_F(CudaGpu, ArtifactThroughModuleRun) {
  const uint32_t n = 777;
  rt::ArtifactWriter writer("add_scale", "cuda:sm_80");
  uint32_t a = writer.addInput("a", rt::DType::F32, {n});
  std::vector<float> bWeights = randomFloats(n, 11);
  uint32_t b =
      writer.addWeight("b", rt::DType::F32, {n}, bWeights.data(), n * 4);
  uint32_t out = writer.addOutput("out", rt::DType::F32, {n});
  uint32_t tmp = writer.addIntermediate("tmp", rt::DType::F32, {n});
  uint32_t p =
      writer.addProgram("cuda:sm_80", kPlanFormat,
                        encodePlan(addScalePlan(n, 1.0f, 2.0f)), {"forward"});
  rt::DispatchDesc d;
  d.bindings = {{a, rt::Access::Read},
                {b, rt::Access::Read},
                {out, rt::Access::Write},
                {tmp, rt::Access::ReadWrite}};
  writer.addDispatch(p, d);
  ASSERT_TRUE(writer.planMemory(p).isOk());
  auto bytes = writer.serialize();
  ASSERT_TRUE(bytes.isOk()) << bytes.status().toString();
  auto artifact = rt::ArtifactReader::readBytes(std::move(bytes.value()));
  ASSERT_TRUE(artifact.isOk()) << artifact.status().toString();
  auto module = rt::Module::load(h.sharedDevice(), artifact.value());
  ASSERT_TRUE(module.isOk()) << module.status().toString();

  for (int run = 0; run < 3; ++run) {
    rt::HostTensor input;
    input.name = "a";
    input.dtype = rt::DType::F32;
    input.shape = {n};
    std::vector<float> av = randomFloats(n, 20 + run);
    input.data.resize(n * 4);
    std::memcpy(input.data.data(), av.data(), n * 4);
    rt::RunStats stats;
    auto outputs = (*module)->run({input}, &stats);
    ASSERT_TRUE(outputs.isOk()) << outputs.status().toString();
    ASSERT_EQ(outputs->size(), 1u);
    std::vector<float> got(n);
    std::memcpy(got.data(), (*outputs)[0].data.data(), n * 4);
    EXPECT_EQ(got, addScaleReference(av, bWeights, 1.0f, 2.0f))
        << "run " << run;
    EXPECT_EQ(stats.counters.dispatches, 1u);
  }
  EXPECT_EQ(h.stats().graphLaunches, 2u);
}

} // namespace
