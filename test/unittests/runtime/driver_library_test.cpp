// Loading an out-of-tree driver (examples/minimal_driver) by path.
#include "gaon/runtime/registry.h"
#include "gaon/runtime/scheduler.h"

#include "test_models.h"

#include <gtest/gtest.h>

namespace gaon::rt {
namespace {

TEST(DriverLibraryTest, NullDriverLoadsAndRuns) {
  DriverRegistry registry;
  ASSERT_TRUE(registry.loadLibrary(GAON_NULL_DRIVER_PATH).isOk());
  EXPECT_TRUE(registry.contains("null"));
  // Loading it twice is refused: the name is taken.
  Status again = registry.loadLibrary(GAON_NULL_DRIVER_PATH);
  EXPECT_FALSE(again.isOk());
  EXPECT_NE(again.message().find("already registered"), std::string::npos);

  auto device = registry.createDeviceForTarget("null");
  ASSERT_TRUE(device.isOk()) << device.status().toString();
  EXPECT_EQ(device.value()->properties().name, "null");
  EXPECT_TRUE(device.value()->properties().reportsEnergy());
  auto buffer = device.value()->allocator().allocate(128);
  ASSERT_TRUE(buffer.isOk());
  uint32_t value = 0xfeedbeef, back = 0;
  ASSERT_TRUE(buffer.value()->write(64, &value, 4).isOk());
  ASSERT_TRUE(buffer.value()->read(64, &back, 4).isOk());
  EXPECT_EQ(back, value);

  // Errors from the library carry its message through host->set_error.
  auto tooBig = device.value()->allocator().allocate(1ull << 40);
  ASSERT_FALSE(tooBig.isOk());
  EXPECT_EQ(tooBig.status().code(), StatusCode::OutOfMemory);

  testing::DiamondOptions options;
  options.target = "null";
  auto bytes = testing::makeDiamond(options).serialize();
  ASSERT_TRUE(bytes.isOk());
  auto artifact = ArtifactReader::readBytes(bytes.value());
  ASSERT_TRUE(artifact.isOk());
  auto module = Module::load(device.value(), artifact.value());
  ASSERT_TRUE(module.isOk()) << module.status().toString();
  HostTensor x = randomTensor("x", DType::F32, {1024}, 1);
  RunStats stats;
  auto outputs = module.value()->run({x}, &stats);
  ASSERT_TRUE(outputs.isOk()) << outputs.status().toString();
  EXPECT_EQ(stats.counters.dispatches, 6u);
  EXPECT_NEAR(stats.counters.energyJ, 6e-9, 1e-15);
}

TEST(DriverLibraryTest, LibraryWithoutEntryPointIsRejected) {
  DriverRegistry registry;
  // libc has no gaon_driver_register_v1.
  Status status = registry.loadLibrary("libc.so.6");
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("gaon_driver_register_v1"),
            std::string::npos);
}

} // namespace
} // namespace gaon::rt
