// The npu-sim executable format and driver: round trip and corruption of the
// format, then a hand-built y = x @ W + b artifact run through the registry,
// HAL and Module on the tiny chip (numerics, counters, weight caching,
// timing-only, trace, device report, and each error case).
#include "gaon/npu_sim/Codec.h"
#include "gaon/npu_sim/Simulator.h"
#include "gaon/npu_sim_runtime/Driver.h"
#include "gaon/npu_sim_runtime/Executable.h"
#include "gaon/runtime/artifact.h"
#include "gaon/runtime/registry.h"
#include "gaon/runtime/scheduler.h"

#include "linear_model.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>
#include <unistd.h>

namespace gaon::npu_sim_runtime {
namespace {

using namespace testing;
using nlohmann::json;
using rt::DeviceOptions;
using rt::DriverRegistry;
using rt::HostTensor;
using rt::Module;
using rt::StatusCode;

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

// --------------------------------------------------------------------------
// Format

NpuExecutable sampleExecutable() {
  return makeLinearExecutable({}, 0, 1, 2, 3);
}

TEST(NpuExecutableFormat, RoundTrip) {
  NpuExecutable exe = sampleExecutable();
  std::vector<uint8_t> bytes = encodeExecutable(exe);
  NpuExecutable back = decodeExecutable(bytes);
  EXPECT_TRUE(back == exe);
  EXPECT_EQ(encodeExecutable(back), bytes);
  // The embedded chip is the preset's JSON and parses on its own.
  EXPECT_EQ(exe.chipJson.front(), '{');
  EXPECT_EQ(resolveChip(exe.chipJson).name, "tiny");
  EXPECT_EQ(compareChips(resolveChip(exe.chipJson), npu_sim::loadChip("tiny")),
            "");
  EXPECT_TRUE(resolveChip(exe.chipJson) == npu_sim::loadChip("tiny"));
  // A preset name is resolved with loadChip.
  EXPECT_EQ(resolveChip("tiny").cores, 2u);
}

TEST(NpuExecutableFormat, VersionAndMagicAreReportedClearly) {
  std::vector<uint8_t> bytes = encodeExecutable(sampleExecutable());
  std::vector<uint8_t> v2 = bytes;
  v2[8] = 2;
  try {
    decodeExecutable(v2);
    FAIL() << "version 2 accepted";
  } catch (const ExecutableError &e) {
    EXPECT_TRUE(contains(e.what(), "unsupported npu-sim executable version 2"))
        << e.what();
  }
  std::vector<uint8_t> stream =
      npu_sim::encodeBinary(sampleExecutable().stream);
  try {
    decodeExecutable(stream);
    FAIL() << "a bare stream accepted";
  } catch (const ExecutableError &e) {
    EXPECT_TRUE(contains(e.what(), "not an npu-sim executable")) << e.what();
  }
}

TEST(NpuExecutableFormat, EveryTruncationAndByteFlipIsAnError) {
  std::vector<uint8_t> bytes = encodeExecutable(sampleExecutable());
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);
    EXPECT_THROW(decodeExecutable(cut.data(), cut.size()), npu_sim::SimError)
        << "truncated at " << n;
  }
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::vector<uint8_t> flipped = bytes;
    flipped[i] ^= 0xFF;
    EXPECT_THROW(decodeExecutable(flipped), npu_sim::SimError)
        << "flip at " << i;
  }
}

// Recomputes the trailing CRC, so flips reach the structural checks.
void fixCrc(std::vector<uint8_t> &bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i + 4 < bytes.size(); ++i) {
    crc ^= bytes[i];
    for (int b = 0; b < 8; ++b)
      crc = (crc & 1) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
  }
  crc ^= 0xFFFFFFFFu;
  for (int i = 0; i < 4; ++i)
    bytes[bytes.size() - 4 + i] = uint8_t(crc >> (8 * i));
}

TEST(NpuExecutableFormat, FlipsBehindTheChecksumNeverCrash) {
  std::vector<uint8_t> bytes = encodeExecutable(sampleExecutable());
  std::mt19937 rng(42);
  int rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> corrupt = bytes;
    int flips = 1 + rng() % 3;
    for (int f = 0; f < flips; ++f)
      corrupt[rng() % (corrupt.size() - 4)] ^= uint8_t(1u << (rng() % 8));
    fixCrc(corrupt);
    try {
      NpuExecutable exe = decodeExecutable(corrupt);
      // Whatever decodes must still be checkable against the chip.
      try {
        validateExecutable(exe, npu_sim::loadChip("tiny"));
      } catch (const npu_sim::SimError &) {
      }
    } catch (const npu_sim::SimError &) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 100);
}

TEST(NpuExecutableFormat, ValidationNamesTheProblem) {
  npu_sim::ChipDesc tiny = npu_sim::loadChip("tiny");
  NpuExecutable exe = sampleExecutable();
  EXPECT_NO_THROW(validateExecutable(exe, tiny));

  NpuExecutable big = exe;
  big.dramBytes = tiny.dram.bytes + 1;
  try {
    validateExecutable(big, tiny);
    FAIL();
  } catch (const ExecutableError &e) {
    EXPECT_TRUE(contains(e.what(), "exceeds the DRAM of chip 'tiny'"))
        << e.what();
  }
  NpuExecutable overlap = exe;
  overlap.bindings[1].dramAddr = kX + 16;
  try {
    validateExecutable(overlap, tiny);
    FAIL();
  } catch (const ExecutableError &e) {
    EXPECT_TRUE(contains(e.what(), "overlap")) << e.what();
  }
  NpuExecutable outside = exe;
  outside.bindings[3].dramAddr = kDramBytes - 8;
  EXPECT_THROW(validateExecutable(outside, tiny), ExecutableError);
  NpuExecutable dup = exe;
  dup.bindings[2].tensorId = dup.bindings[0].tensorId;
  EXPECT_THROW(validateExecutable(dup, tiny), ExecutableError);
  // The stream is validated too (a third core on a two-core chip).
  NpuExecutable threeCores = exe;
  npu_sim::CoreBuilder(threeCores.stream, 2)
      .signal(npu_sim::UnitRef::vector(), 0);
  EXPECT_THROW(validateExecutable(threeCores, tiny), npu_sim::SimError);

  EXPECT_EQ(
      decodeDispatchParams(encodeDispatchParams({7, 1, 300}).data(), 12, 3),
      (std::vector<uint32_t>{7, 1, 300}));
  EXPECT_THROW(decodeDispatchParams(nullptr, 0, 2), ExecutableError);
}

TEST(NpuExecutableFormat, ChipComparison) {
  npu_sim::ChipDesc a = npu_sim::loadChip("tiny"), b = a;
  EXPECT_EQ(compareChips(a, b), "");
  b.dram.bytes *= 2;
  EXPECT_TRUE(contains(compareChips(a, b), "dram.bytes")) << compareChips(a, b);
  EXPECT_NE(compareChips(a, npu_sim::loadChip("rngd")), "");
}

// --------------------------------------------------------------------------
// Driver

class NpuSimDriver : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(registerNpuSimDriver().isOk());
    dir = ::testing::TempDir() + "/npu_sim_drv_" + std::to_string(getpid()) +
          "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_EQ(std::system(("mkdir -p " + dir).c_str()), 0);
  }
  void TearDown() override { (void)std::system(("rm -rf " + dir).c_str()); }

  std::shared_ptr<rt::Device>
  device(DeviceOptions options = {},
         const std::string &target = "npu-sim:tiny") {
    addTargetDeviceOptions(target, options);
    auto created =
        DriverRegistry::global().createDeviceForTarget(target, options);
    EXPECT_TRUE(created.isOk()) << created.status().message();
    return created.isOk() ? created.value() : nullptr;
  }

  static std::shared_ptr<const rt::Artifact>
  artifact(const LinearArtifactOptions &options = {},
           const LinearSpec &spec = {}) {
    auto bytes = makeLinearArtifact(spec, options).serialize();
    EXPECT_TRUE(bytes.isOk()) << bytes.status().message();
    auto read = rt::ArtifactReader::readBytes(bytes.value());
    EXPECT_TRUE(read.isOk()) << read.status().message();
    return read.value();
  }

  static HostTensor input(float scale, const LinearSpec &spec = {}) {
    std::vector<float> x = linearInput(spec, scale);
    HostTensor t;
    t.name = "x";
    t.dtype = rt::DType::F32;
    t.shape = {spec.m, spec.k};
    t.data.resize(x.size() * 4);
    std::memcpy(t.data.data(), x.data(), t.data.size());
    return t;
  }

  static void expectLinear(const HostTensor &y, float scale,
                           const LinearSpec &spec = {}) {
    std::vector<float> expected =
        linearReference(spec, linearInput(spec, scale));
    ASSERT_EQ(y.data.size(), expected.size() * 4);
    std::vector<float> got(expected.size());
    std::memcpy(got.data(), y.data.data(), y.data.size());
    double maxError = 0;
    for (size_t i = 0; i < got.size(); ++i)
      maxError = std::max<double>(maxError, std::fabs(got[i] - expected[i]));
    EXPECT_LT(maxError, 1e-5) << "first: " << got[0] << " vs " << expected[0];
  }

  std::string dir;
};

TEST_F(NpuSimDriver, PropertiesComeFromTheChip) {
  auto dev = device();
  ASSERT_TRUE(dev);
  const rt::DeviceProperties &props = dev->properties();
  EXPECT_EQ(dev->driverName(), "npu-sim");
  EXPECT_EQ(props.name, "npu-sim:tiny");
  EXPECT_EQ(props.memoryBytes, npu_sim::loadChip("tiny").dram.bytes);
  EXPECT_EQ(props.partitionCount, 2u);
  EXPECT_TRUE(props.reportsCycles());
  EXPECT_TRUE(props.reportsEnergy());
  EXPECT_TRUE(props.supports(rt::DType::F32));
  EXPECT_TRUE(props.supports(rt::DType::BF16));
  EXPECT_TRUE(props.supports(rt::DType::I8));
  EXPECT_FALSE(props.supports(rt::DType::F8E4M3FN)); // tiny has no fp8 MACs
  EXPECT_TRUE(props.supports(rt::DType::I64));
  EXPECT_FALSE(props.supports(rt::DType::F64));
  EXPECT_EQ(npuSimChipName(*dev), "tiny");

  auto rngd = device({}, "npu-sim");
  ASSERT_TRUE(rngd);
  EXPECT_EQ(rngd->properties().name, "npu-sim:rngd");
  EXPECT_TRUE(rngd->properties().supports(rt::DType::F8E4M3FN));
  auto chipOption = device({{"chip", "atom"}}, "npu-sim:tiny");
  ASSERT_TRUE(chipOption);
  EXPECT_EQ(chipOption->properties().name, "npu-sim:atom");
}

TEST_F(NpuSimDriver, BadDeviceOptionsAreClear) {
  auto bad = DriverRegistry::global().createDevice("npu-sim", 0,
                                                   {{"timing_onyl", "1"}});
  ASSERT_FALSE(bad.isOk());
  EXPECT_TRUE(contains(bad.status().message(), "unknown device option "
                                               "'timing_onyl'"))
      << bad.status().message();
  bad = DriverRegistry::global().createDevice("npu-sim", 0,
                                              {{"chip", "nosuchchip"}});
  ASSERT_FALSE(bad.isOk());
  EXPECT_TRUE(contains(bad.status().message(), "cannot find chip 'nosuchchip'"))
      << bad.status().message();
  bad = DriverRegistry::global().createDevice("npu-sim", 0,
                                              {{"timing-only", "maybe"}});
  EXPECT_FALSE(bad.isOk());
}

TEST_F(NpuSimDriver, RunsLinearLayerThroughModule) {
  auto dev = device();
  ASSERT_TRUE(dev);
  auto module = Module::load(dev, artifact());
  ASSERT_TRUE(module.isOk()) << module.status().message();
  rt::RunStats stats;
  auto outputs = module.value()->run({input(1.0f)}, &stats);
  ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
  ASSERT_EQ(outputs->size(), 1u);
  EXPECT_EQ((*outputs)[0].name, "y");
  expectLinear((*outputs)[0], 1.0f);
  EXPECT_EQ(stats.counters.dispatches, 1u);
  EXPECT_GT(stats.counters.cycles, 0u);
  EXPECT_GT(stats.counters.energyJ, 0.0);
  // busy_s is simulated time: cycles / clock (tiny runs at 1 GHz).
  EXPECT_NEAR(stats.counters.busyS, stats.counters.cycles * 1e-9, 2e-9);

  json report = json::parse(npuSimLastReportJson(*dev));
  EXPECT_EQ(report["chip"], "tiny");
  EXPECT_NEAR(report["cycles"].get<double>(), double(stats.counters.cycles),
              1.0);
  EXPECT_EQ(report["driver"]["mode"], "functional");
  EXPECT_EQ(report["driver"]["bytes_copied_out"], 32 * 48 * 4);
}

TEST_F(NpuSimDriver, WeightsAreCopiedOnceAcrossRuns) {
  auto dev = device();
  ASSERT_TRUE(dev);
  auto module = Module::load(dev, artifact());
  ASSERT_TRUE(module.isOk()) << module.status().message();
  const LinearSpec spec;
  const uint64_t xBytes = spec.m * spec.k * 4, wBytes = spec.k * spec.n * 4,
                 bBytes = spec.n * 4;
  uint64_t cycles = 0;
  for (int run = 0; run < 4; ++run) {
    float scale = 1.0f + run; // new inputs each run
    rt::RunStats stats;
    auto outputs = module.value()->run({input(scale)}, &stats);
    ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
    expectLinear((*outputs)[0], scale);
    if (run == 0)
      cycles = stats.counters.cycles;
    EXPECT_EQ(stats.counters.cycles, cycles) << "run " << run;
  }
  NpuSimDeviceStats stats;
  ASSERT_TRUE(npuSimDeviceStats(*dev, &stats));
  EXPECT_EQ(stats.runs, 4u);
  // Run 1 copies x, W and b; runs 2-4 copy only x.
  EXPECT_EQ(stats.bindingsCopiedIn, 3u + 3u);
  EXPECT_EQ(stats.bindingsSkipped, 2u * 3u);
  EXPECT_EQ(stats.bytesCopiedIn, wBytes + bBytes + 4 * xBytes);
  EXPECT_EQ(stats.bytesSkipped, 3 * (wBytes + bBytes));
  json report = json::parse(npuSimLastReportJson(*dev));
  EXPECT_EQ(report["driver"]["bindings_skipped"], 2);
  EXPECT_EQ(report["driver"]["bytes_copied_in"], xBytes);
}

TEST_F(NpuSimDriver, RewrittenWeightsAreCopiedAgain) {
  // Through the HAL directly: overwrite a "weight" buffer between runs.
  auto dev = device();
  ASSERT_TRUE(dev);
  const LinearSpec spec;
  NpuExecutable exe = makeLinearExecutable(spec, 10, 11, 12, 13);
  std::vector<uint8_t> bytes = encodeExecutable(exe);
  rt::ExecutableSpec es;
  es.target = "npu-sim:tiny";
  es.format = kNpuExecutableFormat;
  es.data = bytes.data();
  es.size = bytes.size();
  es.entryNames = {kNpuEntryName};
  auto executable = dev->loadExecutable(es);
  ASSERT_TRUE(executable.isOk()) << executable.status().message();
  std::vector<std::unique_ptr<rt::Buffer>> buffers;
  for (const NpuBinding &b : exe.bindings) {
    auto buffer = dev->allocator().allocate(b.bytes);
    ASSERT_TRUE(buffer.isOk());
    buffers.push_back(std::move(buffer.value()));
  }
  std::vector<float> x = linearInput(spec, 1.0f), w = linearWeights(spec),
                     bias = linearBias(spec);
  ASSERT_TRUE(buffers[0]->write(0, x.data(), x.size() * 4).isOk());
  ASSERT_TRUE(buffers[1]->write(0, w.data(), w.size() * 4).isOk());
  ASSERT_TRUE(buffers[2]->write(0, bias.data(), bias.size() * 4).isOk());
  auto queue = dev->createQueue(1);
  auto fence = dev->createFence(0);
  ASSERT_TRUE(queue.isOk() && fence.isOk());
  // Bindings in a different order than the executable's: matched by id.
  std::vector<gaon_binding_t> raw;
  std::vector<uint32_t> ids = {13, 12, 11, 10};
  for (uint32_t id : ids)
    raw.push_back({buffers[id - 10]->handle(), 0, buffers[id - 10]->size()});
  std::vector<uint8_t> params = encodeDispatchParams(ids);
  auto runOnce = [&](uint64_t value) {
    rt::Submission submission;
    gaon_dispatch_t d = {};
    d.executable = executable.value()->handle();
    d.bindings = raw.data();
    d.binding_count = static_cast<uint32_t>(raw.size());
    d.params = params.data();
    d.params_size = static_cast<uint32_t>(params.size());
    submission.dispatches.push_back(d);
    submission.signals.push_back({fence.value().get(), value});
    ASSERT_TRUE(queue.value()->submit(submission).isOk());
    ASSERT_TRUE(fence.value()->wait(value).isOk());
  };
  runOnce(1);
  runOnce(2);
  NpuSimDeviceStats stats;
  ASSERT_TRUE(npuSimDeviceStats(*dev, &stats));
  EXPECT_EQ(stats.bindingsCopiedIn, 3u); // x, W, b: none changed for run 2
  EXPECT_EQ(stats.bindingsSkipped, 3u);
  // Doubling W changes y accordingly: the new W was copied.
  for (float &v : w)
    v *= 2;
  ASSERT_TRUE(buffers[1]->write(0, w.data(), w.size() * 4).isOk());
  runOnce(3);
  ASSERT_TRUE(npuSimDeviceStats(*dev, &stats));
  EXPECT_EQ(stats.bindingsCopiedIn, 4u);
  std::vector<float> y(spec.m * spec.n);
  ASSERT_TRUE(buffers[3]->read(0, y.data(), y.size() * 4).isOk());
  std::vector<float> base = linearReference(spec, x);
  // y = x(2W) + b = 2 (xW + b) - b
  for (uint32_t i = 0; i < spec.m; ++i)
    for (uint32_t j = 0; j < spec.n; ++j)
      ASSERT_NEAR(y[i * spec.n + j], 2 * base[i * spec.n + j] - bias[j], 1e-4);
  auto counters = queue.value()->counters();
  ASSERT_TRUE(counters.isOk());
  EXPECT_EQ(counters->dispatches, 3u);
}

TEST_F(NpuSimDriver, PositionalBindingsWithoutParams) {
  LinearArtifactOptions options;
  options.positional = true;
  auto dev = device();
  auto module = Module::load(dev, artifact(options));
  ASSERT_TRUE(module.isOk()) << module.status().message();
  auto outputs = module.value()->run({input(0.5f)});
  ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
  expectLinear((*outputs)[0], 0.5f);
}

TEST_F(NpuSimDriver, TimingOnlySkipsArithmetic) {
  auto functional = device();
  auto module = Module::load(functional, artifact());
  ASSERT_TRUE(module.isOk());
  rt::RunStats fstats;
  ASSERT_TRUE(module.value()->run({input(1.0f)}, &fstats).isOk());

  auto dev = device({{"timing-only", "1"}});
  ASSERT_TRUE(dev);
  auto timing = Module::load(dev, artifact());
  ASSERT_TRUE(timing.isOk()) << timing.status().message();
  rt::RunStats stats;
  auto outputs = timing.value()->run({input(1.0f)}, &stats);
  ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
  EXPECT_EQ(stats.counters.cycles, fstats.counters.cycles);
  EXPECT_GT(stats.counters.energyJ, 0.0);
  // Nothing was computed or copied: y is the arena's initial zeros.
  for (uint8_t byte : (*outputs)[0].data)
    ASSERT_EQ(byte, 0);
  NpuSimDeviceStats driverStats;
  ASSERT_TRUE(npuSimDeviceStats(*dev, &driverStats));
  EXPECT_EQ(driverStats.bytesCopiedIn, 0u);
  EXPECT_EQ(driverStats.bytesCopiedOut, 0u);
  EXPECT_EQ(json::parse(npuSimLastReportJson(*dev))["driver"]["mode"],
            "timing-only");
}

TEST_F(NpuSimDriver, WritesTheTrace) {
  std::string path = dir + "/trace.json";
  auto dev = device({{"trace", path}});
  ASSERT_TRUE(dev);
  auto module = Module::load(dev, artifact());
  ASSERT_TRUE(module.isOk());
  ASSERT_TRUE(module.value()->run({input(1.0f)}).isOk());
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << path;
  json trace = json::parse(in);
  const json &events = trace.is_object() ? trace["traceEvents"] : trace;
  ASSERT_TRUE(events.is_array());
  EXPECT_GT(events.size(), 8u);
  EXPECT_EQ(json::parse(npuSimLastReportJson(*dev))["driver"]["trace"], path);

  auto unwritable = device({{"trace", dir + "/no/such/dir/t.json"}});
  auto failing = Module::load(unwritable, artifact());
  ASSERT_TRUE(failing.isOk());
  auto run = failing.value()->run({input(1.0f)});
  ASSERT_FALSE(run.isOk());
  EXPECT_TRUE(contains(run.status().message(), "cannot write the trace"))
      << run.status().message();
}

TEST_F(NpuSimDriver, WrongChipIsAClearError) {
  auto dev = device({{"chip", "atom"}});
  ASSERT_TRUE(dev);
  auto module = Module::load(dev, artifact());
  ASSERT_FALSE(module.isOk());
  EXPECT_EQ(module.status().code(), StatusCode::FailedPrecondition);
  const std::string &message = module.status().message();
  EXPECT_TRUE(contains(message, "compiled for chip 'tiny'")) << message;
  EXPECT_TRUE(contains(message, "simulates chip 'atom'")) << message;
  EXPECT_TRUE(contains(message, "chip=tiny")) << message;
}

TEST_F(NpuSimDriver, ChipByPresetNameAlsoRuns) {
  LinearSpec spec;
  spec.embedChipJson = false;
  auto module = Module::load(device(), artifact({}, spec));
  ASSERT_TRUE(module.isOk()) << module.status().message();
  auto outputs = module.value()->run({input(1.0f)});
  ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
  expectLinear((*outputs)[0], 1.0f);
}

TEST_F(NpuSimDriver, MissingAndExtraBindingsAreClearErrors) {
  LinearArtifactOptions missing;
  missing.dropBias = true;
  auto module = Module::load(device(), artifact(missing));
  ASSERT_TRUE(module.isOk()) << module.status().message();
  auto run = module.value()->run({input(1.0f)});
  ASSERT_FALSE(run.isOk());
  EXPECT_TRUE(contains(run.status().message(), "missing binding for tensor 2"))
      << run.status().message();

  LinearArtifactOptions extra;
  extra.extraBinding = true;
  module = Module::load(device(), artifact(extra));
  ASSERT_TRUE(module.isOk()) << module.status().message();
  run = module.value()->run({input(1.0f)});
  ASSERT_FALSE(run.isOk());
  EXPECT_TRUE(contains(run.status().message(), "extra binding"))
      << run.status().message();

  LinearArtifactOptions positional;
  positional.positional = true;
  positional.dropBias = true;
  module = Module::load(device(), artifact(positional));
  ASSERT_TRUE(module.isOk());
  run = module.value()->run({input(1.0f)});
  ASSERT_FALSE(run.isOk());
  EXPECT_TRUE(contains(run.status().message(), "binds 3 buffers but the "
                                               "executable has 4"))
      << run.status().message();
}

TEST_F(NpuSimDriver, WrongFormatAndCorruptExecutable) {
  LinearArtifactOptions format;
  format.format = "host-ref";
  auto module = Module::load(device(), artifact(format));
  ASSERT_FALSE(module.isOk());
  EXPECT_TRUE(contains(module.status().message(),
                       "executable format 'host-ref' is not 'npu-cmd'"))
      << module.status().message();

  LinearArtifactOptions corrupt;
  corrupt.corruptExecutable = true;
  module = Module::load(device(), artifact(corrupt));
  ASSERT_FALSE(module.isOk());
  EXPECT_EQ(module.status().code(), StatusCode::DataLoss);
  EXPECT_TRUE(contains(module.status().message(), "checksum"))
      << module.status().message();

  // Every truncation of the executable bytes fails cleanly at load.
  auto dev = device();
  std::vector<uint8_t> bytes = encodeExecutable(sampleExecutable());
  for (size_t n = 0; n < bytes.size(); n += 7) {
    rt::ExecutableSpec es;
    es.target = "npu-sim:tiny";
    es.format = kNpuExecutableFormat;
    es.data = bytes.data();
    es.size = n;
    es.entryNames = {kNpuEntryName};
    EXPECT_FALSE(dev->loadExecutable(es).isOk()) << n;
  }
}

TEST_F(NpuSimDriver, OutOfMemoryIsClean) {
  // Module load beyond a lowered memory size.
  auto small = device({{"memory_bytes", "8192"}});
  ASSERT_TRUE(small);
  EXPECT_EQ(small->properties().memoryBytes, 8192u);
  auto module = Module::load(small, artifact());
  ASSERT_FALSE(module.isOk());
  EXPECT_EQ(module.status().code(), StatusCode::OutOfMemory);

  // Beyond the chip's DRAM, through the allocator and the driver itself.
  auto dev = device();
  uint64_t dram = dev->properties().memoryBytes;
  auto buffer = dev->allocator().allocate(dram + 1);
  ASSERT_FALSE(buffer.isOk());
  EXPECT_EQ(buffer.status().code(), StatusCode::OutOfMemory);
  gaon_buffer_params_t params = {};
  params.size = dram + 1;
  gaon_buffer_t *raw = nullptr;
  EXPECT_EQ(dev->vtable().buffer_allocate(dev->handle(), &params, &raw),
            GAON_OUT_OF_MEMORY);
  EXPECT_TRUE(contains(gaon_last_error_message(), "out of memory"))
      << gaon_last_error_message();
  EXPECT_TRUE(contains(gaon_last_error_message(), "chip 'tiny' DRAM"))
      << gaon_last_error_message();
  auto lowered = DriverRegistry::global().createDevice(
      "npu-sim", 0, {{"chip", "tiny"}, {"memory_bytes", "1099511627776"}});
  EXPECT_FALSE(lowered.isOk());
}

TEST_F(NpuSimDriver, SimulatorErrorFailsTheRunAndRecovers) {
  LinearSpec spec;
  spec.deadlock = true;
  auto dev = device();
  auto module = Module::load(dev, artifact({}, spec));
  ASSERT_TRUE(module.isOk()) << module.status().message();
  auto run = module.value()->run({input(1.0f)});
  ASSERT_FALSE(run.isOk());
  EXPECT_EQ(run.status().code(), StatusCode::Aborted);
  EXPECT_TRUE(contains(run.status().message(), "npu-sim:"))
      << run.status().message();
  EXPECT_TRUE(contains(run.status().message(), "deadlock"))
      << run.status().message();
  // The module recovers; the good model still runs on the same device.
  auto good = Module::load(dev, artifact());
  ASSERT_TRUE(good.isOk());
  auto outputs = good.value()->run({input(1.0f)});
  ASSERT_TRUE(outputs.isOk()) << outputs.status().message();
  expectLinear((*outputs)[0], 1.0f);
  NpuSimDeviceStats stats;
  ASSERT_TRUE(npuSimDeviceStats(*dev, &stats));
  EXPECT_EQ(stats.failedRuns, 1u);
}

TEST_F(NpuSimDriver, TenantsOnBothCores) {
  auto dev = device();
  rt::DeviceScheduler scheduler(dev);
  auto a = scheduler.load(artifact());
  auto b = scheduler.load(artifact());
  ASSERT_TRUE(a.isOk() && b.isOk());
  EXPECT_NE(a.value()->partition(), b.value()->partition());
  std::thread other([&] {
    for (int i = 0; i < 3; ++i) {
      auto out = b.value()->run({input(2.0f)});
      ASSERT_TRUE(out.isOk());
      expectLinear((*out)[0], 2.0f);
    }
  });
  for (int i = 0; i < 3; ++i) {
    auto out = a.value()->run({input(3.0f)});
    ASSERT_TRUE(out.isOk());
    expectLinear((*out)[0], 3.0f);
  }
  other.join();
}

TEST_F(NpuSimDriver, NotAnNpuSimDevice) {
  auto host = DriverRegistry::global().createDevice("host-ref");
  ASSERT_TRUE(host.isOk());
  EXPECT_FALSE(npuSimDeviceStats(*host.value(), nullptr));
  EXPECT_EQ(npuSimLastReportJson(*host.value()), "");
  DeviceOptions options;
  addTargetDeviceOptions("host-ref", options);
  EXPECT_TRUE(options.empty());
  addTargetDeviceOptions("npu-sim:atom", options);
  EXPECT_EQ(options["target"], "npu-sim:atom");
}

} // namespace
} // namespace gaon::npu_sim_runtime
