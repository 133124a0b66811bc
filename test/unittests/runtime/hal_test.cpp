// HAL through the host-ref driver: registry, allocator statistics and
// out-of-memory, queue ordering, fences across queues and with the host.
#include "gaon/runtime/hal.h"
#include "gaon/runtime/registry.h"

#include <gtest/gtest.h>

#include <cstring>
#include <thread>

namespace gaon::rt {
namespace {

std::shared_ptr<Device> makeDevice(const DeviceOptions &options = {}) {
  auto device = DriverRegistry::global().createDevice("host-ref", 0, options);
  EXPECT_TRUE(device.isOk()) << device.status().toString();
  return device.isOk() ? device.value() : nullptr;
}

TEST(RegistryTest, HostRefIsBuiltIn) {
  EXPECT_TRUE(DriverRegistry::global().contains("host-ref"));
  EXPECT_GE(gaon_driver_count(), 1u);
}

TEST(RegistryTest, UnknownTargetNamesTargetAndDrivers) {
  auto device = DriverRegistry::global().createDeviceForTarget("npu-xyz:abc");
  ASSERT_FALSE(device.isOk());
  EXPECT_EQ(device.status().code(), StatusCode::NotFound);
  EXPECT_NE(device.status().message().find("npu-xyz:abc"), std::string::npos);
  EXPECT_NE(device.status().message().find("host-ref"), std::string::npos);
}

TEST(RegistryTest, DuplicateAndIncompleteDriversAreRejected) {
  DriverRegistry registry;
  registerBuiltinDrivers(registry);
  gaon_driver_v1_t copy = {};
  copy.abi_version = GAON_DRIVER_ABI_VERSION;
  copy.name = "host-ref";
  gaon_driver_vtable_v1_t empty = {};
  copy.vtable = &empty;
  EXPECT_FALSE(registry.registerDriver(copy).isOk()); // incomplete vtable
  copy.abi_version = 99;
  Status status = registry.registerDriver(copy);
  EXPECT_EQ(status.code(), StatusCode::FailedPrecondition);
}

TEST(RegistryTest, MissingLibraryIsNotFound) {
  Status status = DriverRegistry::global().loadLibrary("/nonexistent/x.so");
  EXPECT_EQ(status.code(), StatusCode::NotFound);
  EXPECT_EQ(gaon_load_driver_library("/nonexistent/x.so"), GAON_NOT_FOUND);
  EXPECT_NE(std::string(gaon_last_error_message()).find("x.so"),
            std::string::npos);
}

TEST(DeviceTest, Properties) {
  auto device = makeDevice({{"partitions", "4"}, {"memory_bytes", "1048576"}});
  ASSERT_TRUE(device);
  EXPECT_EQ(device->properties().partitionCount, 4u);
  EXPECT_EQ(device->properties().memoryBytes, 1048576u);
  EXPECT_TRUE(device->properties().supports(DType::F32));
  EXPECT_FALSE(device->properties().supports(DType::F8E4M3FN));
  EXPECT_TRUE(device->properties().reportsCycles());
  EXPECT_FALSE(device->createQueue(4).isOk());
}

TEST(DeviceTest, BadOptionsAreErrors) {
  auto device = DriverRegistry::global().createDevice("host-ref", 0,
                                                      {{"partitions", "many"}});
  ASSERT_FALSE(device.isOk());
  EXPECT_EQ(device.status().code(), StatusCode::InvalidArgument);
}

TEST(AllocatorTest, StatsTrackInUseAndPeak) {
  auto device = makeDevice();
  Allocator &allocator = device->allocator();
  {
    auto a = allocator.allocate(1000);
    auto b = allocator.allocate(3000);
    ASSERT_TRUE(a.isOk() && b.isOk());
    EXPECT_EQ(allocator.stats().bytesInUse, 4000u);
    EXPECT_EQ(allocator.stats().liveAllocations, 2u);
    a.value().reset();
    EXPECT_EQ(allocator.stats().bytesInUse, 3000u);
    auto c = allocator.allocate(500);
    EXPECT_EQ(allocator.stats().peakBytesInUse, 4000u);
  }
  AllocatorStats stats = allocator.stats();
  EXPECT_EQ(stats.bytesInUse, 0u);
  EXPECT_EQ(stats.liveAllocations, 0u);
  EXPECT_EQ(stats.totalAllocations, 3u);
}

TEST(AllocatorTest, OutOfMemoryIsACleanError) {
  auto device = makeDevice({{"memory_bytes", "10000"}});
  Allocator &allocator = device->allocator();
  auto a = allocator.allocate(6000);
  ASSERT_TRUE(a.isOk());
  auto b = allocator.allocate(6000);
  ASSERT_FALSE(b.isOk());
  EXPECT_EQ(b.status().code(), StatusCode::OutOfMemory);
  EXPECT_NE(b.status().message().find("6000"), std::string::npos);
  EXPECT_EQ(allocator.stats().failedAllocations, 1u);
  EXPECT_EQ(allocator.stats().bytesInUse, 6000u);
  // A lower budget applies too; freeing makes room again.
  allocator.setBudget(5000);
  a.value().reset();
  EXPECT_FALSE(allocator.allocate(5001).isOk());
  EXPECT_TRUE(allocator.allocate(5000).isOk());
  EXPECT_FALSE(allocator.allocate(UINT64_MAX).isOk());
}

TEST(BufferTest, ReadWriteAndBounds) {
  auto device = makeDevice();
  auto buffer = device->allocator().allocate(16);
  ASSERT_TRUE(buffer.isOk());
  const char text[] = "0123456789abcde";
  ASSERT_TRUE(buffer.value()->write(0, text, 16).isOk());
  char back[8] = {};
  ASSERT_TRUE(buffer.value()->read(8, back, 8).isOk());
  EXPECT_EQ(std::memcmp(back, text + 8, 8), 0);
  EXPECT_EQ(buffer.value()->read(9, back, 8).code(), StatusCode::OutOfRange);
  EXPECT_EQ(buffer.value()->write(UINT64_MAX, text, 2).code(),
            StatusCode::OutOfRange);
}

struct QueueFixture : ::testing::Test {
  void SetUp() override {
    device = makeDevice();
    auto exe = device->loadExecutable(
        {"host-ref",
         "host-ref",
         nullptr,
         0,
         {"copy", "add_f32", "scale_f32", "fill_f32", "sleep_us", "fail"}});
    ASSERT_TRUE(exe.isOk()) << exe.status().toString();
    executable = std::move(exe.value());
    auto buf = device->allocator().allocate(4 * 64);
    ASSERT_TRUE(buf.isOk());
    buffer = std::move(buf.value());
  }
  gaon_dispatch_t dispatch(uint32_t entry, std::vector<gaon_binding_t> &binds,
                           const void *params, uint32_t paramsSize) {
    gaon_dispatch_t d = {};
    d.executable = executable->handle();
    d.entry_index = entry;
    d.bindings = binds.data();
    d.binding_count = static_cast<uint32_t>(binds.size());
    d.params = static_cast<const uint8_t *>(params);
    d.params_size = paramsSize;
    return d;
  }
  float readFloat(uint64_t index) {
    float value = 0;
    EXPECT_TRUE(buffer->read(index * 4, &value, 4).isOk());
    return value;
  }
  std::shared_ptr<Device> device;
  std::unique_ptr<Executable> executable;
  std::unique_ptr<Buffer> buffer;
};

TEST_F(QueueFixture, UnknownKernelFailsToLoad) {
  auto exe =
      device->loadExecutable({"host-ref", "host-ref", nullptr, 0, {"nope"}});
  ASSERT_FALSE(exe.isOk());
  EXPECT_NE(exe.status().message().find("nope"), std::string::npos);
}

TEST_F(QueueFixture, SubmissionsRunInOrder) {
  auto queue = device->createQueue(0);
  auto fence = device->createFence(0);
  ASSERT_TRUE(queue.isOk() && fence.isOk());
  std::vector<gaon_binding_t> slot = {{buffer->handle(), 0, 4}};
  // 100 submissions: fill(i) then a sleep; the last fill must win.
  for (uint32_t i = 1; i <= 100; ++i) {
    float value = static_cast<float>(i);
    uint32_t micros = (i % 10) * 20;
    Submission submission;
    submission.dispatches.push_back(dispatch(4, slot, &micros, 4));
    submission.dispatches.push_back(dispatch(3, slot, &value, 4));
    submission.signals.push_back({fence.value().get(), i});
    ASSERT_TRUE(queue.value()->submit(submission).isOk());
  }
  ASSERT_TRUE(fence.value()->wait(100).isOk());
  EXPECT_EQ(readFloat(0), 100.0f);
  auto counters = queue.value()->counters();
  ASSERT_TRUE(counters.isOk());
  EXPECT_EQ(counters->dispatches, 200u);
  EXPECT_GT(counters->cycles, 0u);
}

TEST_F(QueueFixture, FencesOrderWorkAcrossQueues) {
  auto q0 = device->createQueue(0);
  auto q1 = device->createQueue(1);
  auto f0 = device->createFence(0);
  auto f1 = device->createFence(0);
  ASSERT_TRUE(q0.isOk() && q1.isOk() && f0.isOk() && f1.isOk());
  std::vector<gaon_binding_t> a = {{buffer->handle(), 0, 16}};
  std::vector<gaon_binding_t> copyAB = {{buffer->handle(), 0, 16},
                                        {buffer->handle(), 16, 16}};
  float seven = 7.0f;
  uint32_t sleep = 20000;
  // q0: sleep 20 ms, fill a = 7, signal f0 = 1.
  Submission first;
  first.dispatches = {dispatch(4, a, &sleep, 4), dispatch(3, a, &seven, 4)};
  first.signals = {{f0.value().get(), 1}};
  // q1: wait f0 >= 1, copy a -> b, signal f1 = 1. Submitted right away.
  Submission second;
  second.waits = {{f0.value().get(), 1}};
  second.dispatches = {dispatch(0, copyAB, nullptr, 0)};
  second.signals = {{f1.value().get(), 1}};
  ASSERT_TRUE(q1.value()->submit(second).isOk());
  ASSERT_TRUE(q0.value()->submit(first).isOk());
  ASSERT_TRUE(f1.value()->wait(1).isOk());
  for (int i = 4; i < 8; ++i)
    EXPECT_EQ(readFloat(i), 7.0f);
}

TEST_F(QueueFixture, HostSignalReleasesQueueAndTimeoutsReport) {
  auto queue = device->createQueue(0);
  auto gate = device->createFence(0);
  auto done = device->createFence(0);
  std::vector<gaon_binding_t> a = {{buffer->handle(), 0, 4}};
  float one = 1.0f;
  Submission submission;
  submission.waits = {{gate.value().get(), 5}};
  submission.dispatches = {dispatch(3, a, &one, 4)};
  submission.signals = {{done.value().get(), 1}};
  ASSERT_TRUE(queue.value()->submit(submission).isOk());
  Status timeout = done.value()->wait(1, 10 * 1000 * 1000);
  EXPECT_EQ(timeout.code(), StatusCode::DeadlineExceeded);
  EXPECT_EQ(done.value()->value().value(), 0u);
  ASSERT_TRUE(gate.value()->signal(5).isOk());
  ASSERT_TRUE(done.value()->wait(1).isOk());
  EXPECT_EQ(readFloat(0), 1.0f);
  EXPECT_FALSE(gate.value()->signal(4).isOk()); // values only grow
}

TEST_F(QueueFixture, FailurePropagatesThroughFences) {
  auto q0 = device->createQueue(0);
  auto q1 = device->createQueue(0);
  auto f0 = device->createFence(0);
  auto f1 = device->createFence(0);
  std::vector<gaon_binding_t> none;
  Submission failing;
  failing.dispatches = {dispatch(5, none, nullptr, 0)};
  failing.signals = {{f0.value().get(), 1}};
  Submission dependent;
  dependent.waits = {{f0.value().get(), 1}};
  dependent.signals = {{f1.value().get(), 1}};
  ASSERT_TRUE(q0.value()->submit(failing).isOk());
  ASSERT_TRUE(q1.value()->submit(dependent).isOk());
  Status status = f1.value()->wait(1);
  EXPECT_EQ(status.code(), StatusCode::Aborted);
  EXPECT_NE(status.message().find("fail"), std::string::npos);
}

TEST_F(QueueFixture, OutOfRangeBindingIsRejectedAtSubmit) {
  auto queue = device->createQueue(0);
  std::vector<gaon_binding_t> bad = {{buffer->handle(), 250, 16}};
  Submission submission;
  float zero = 0;
  submission.dispatches = {dispatch(3, bad, &zero, 4)};
  Status status = queue.value()->submit(submission);
  EXPECT_EQ(status.code(), StatusCode::OutOfRange);
}

} // namespace
} // namespace gaon::rt
