// .gaon artifacts: round trip, atomic writes, and every kind of corruption
// (truncation, byte flips, wrong magic/version, out-of-range offsets and
// references). None may crash; all must be clean errors.
#include "gaon/runtime/artifact.h"

#include "test_models.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <unistd.h>

namespace gaon::rt {
namespace {

using testing::makeDiamond;

std::vector<uint8_t> diamondBytes() {
  auto bytes = makeDiamond().serialize();
  EXPECT_TRUE(bytes.isOk()) << bytes.status().toString();
  return bytes.value();
}

std::string tempPath(const std::string &name) {
  return ::testing::TempDir() + "/" + std::to_string(getpid()) + "_" + name;
}

TEST(ArtifactTest, RoundTrip) {
  ArtifactWriter writer = makeDiamond();
  auto bytes = writer.serialize();
  ASSERT_TRUE(bytes.isOk()) << bytes.status().toString();
  auto artifact = ArtifactReader::readBytes(bytes.value());
  ASSERT_TRUE(artifact.isOk()) << artifact.status().toString();
  const ModelDesc &read = artifact.value()->model();
  const ModelDesc &written = writer.model();
  EXPECT_EQ(read.name, "diamond");
  EXPECT_EQ(read.target, "host-ref");
  EXPECT_EQ(read.producer, "gaon");
  ASSERT_EQ(read.compilerOptions.size(), 1u);
  EXPECT_EQ(read.compilerOptions[0].second, "diamond");
  ASSERT_EQ(read.tensors.size(), written.tensors.size());
  for (size_t i = 0; i < read.tensors.size(); ++i) {
    EXPECT_EQ(read.tensors[i].name, written.tensors[i].name);
    EXPECT_EQ(read.tensors[i].shape, written.tensors[i].shape);
    EXPECT_EQ(read.tensors[i].kind, written.tensors[i].kind);
    EXPECT_EQ(read.tensors[i].arenaOffset, written.tensors[i].arenaOffset);
    EXPECT_EQ(read.tensors[i].weightOffset, written.tensors[i].weightOffset);
  }
  EXPECT_EQ(read.inputs, written.inputs);
  EXPECT_EQ(read.outputs, written.outputs);
  EXPECT_EQ(read.memoryPlan.arenaSize, written.memoryPlan.arenaSize);
  EXPECT_EQ(read.memoryPlan.lowerBound, written.memoryPlan.lowerBound);
  EXPECT_LE(read.memoryPlan.lowerBound, read.memoryPlan.arenaSize);
  ASSERT_EQ(read.programs.size(), 1u);
  const ProgramDesc &program = read.programs[0];
  EXPECT_EQ(program.entries, written.programs[0].entries);
  ASSERT_EQ(program.dispatches.size(), 6u);
  EXPECT_EQ(program.dispatches[4].dependsOn, (std::vector<uint32_t>{1, 3}));
  EXPECT_EQ(program.dispatches[1].params.size(), 4u);
  // Weights are 64-byte aligned in the section, the section page aligned.
  const TensorDesc *w = read.findTensor("w");
  ASSERT_TRUE(w);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(artifact.value()->weightData(*w)) % 64,
            0u);
  float w3;
  std::memcpy(&w3, artifact.value()->weightData(*w) + 12, 4);
  EXPECT_EQ(w3, 1.5f);
}

TEST(ArtifactTest, FileRoundTripIsAtomic) {
  std::string path = tempPath("atomic.gaon");
  ASSERT_TRUE(makeDiamond().writeFile(path).isOk());
  auto first = ArtifactReader::readFile(path);
  ASSERT_TRUE(first.isOk()) << first.status().toString();
  EXPECT_EQ(first.value()->model().name, "diamond");
  // A failing write (invalid model) leaves the old file untouched.
  ArtifactWriter broken("broken", "host-ref");
  broken.addInput("x", DType::F32, {-1});
  EXPECT_FALSE(broken.writeFile(path).isOk());
  auto again = ArtifactReader::readFile(path);
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ(again.value()->model().name, "diamond");
  // Writing into a missing directory fails cleanly, leaves nothing behind.
  EXPECT_FALSE(makeDiamond().writeFile("/nonexistent-dir/x.gaon").isOk());
  std::remove(path.c_str());
}

TEST(ArtifactTest, WeightSizeMismatchIsRejectedByWriter) {
  ArtifactWriter writer("w", "host-ref");
  float data[3] = {1, 2, 3};
  writer.addWeight("w", DType::F32, {4}, data, sizeof(data));
  auto bytes = writer.serialize();
  ASSERT_FALSE(bytes.isOk());
  EXPECT_NE(bytes.status().message().find("needs 16"), std::string::npos);
}

TEST(ArtifactTest, MissingFileAndEmptyFile) {
  auto missing = ArtifactReader::readFile("/nonexistent/model.gaon");
  EXPECT_EQ(missing.status().code(), StatusCode::NotFound);
  std::string path = tempPath("empty.gaon");
  { std::ofstream(path).flush(); }
  auto empty = ArtifactReader::readFile(path);
  EXPECT_EQ(empty.status().code(), StatusCode::DataLoss);
  std::remove(path.c_str());
}

TEST(ArtifactTest, WrongMagic) {
  std::vector<uint8_t> bytes = diamondBytes();
  bytes[0] = 'X';
  auto artifact = ArtifactReader::readBytes(bytes);
  ASSERT_FALSE(artifact.isOk());
  EXPECT_NE(artifact.status().message().find("magic"), std::string::npos);
}

TEST(ArtifactTest, WrongVersionSaysSo) {
  for (uint32_t version : {0u, 2u, 77u}) {
    std::vector<uint8_t> bytes = diamondBytes();
    std::memcpy(bytes.data() + 8, &version, 4);
    auto artifact = ArtifactReader::readBytes(bytes);
    ASSERT_FALSE(artifact.isOk());
    EXPECT_EQ(artifact.status().code(), StatusCode::FailedPrecondition);
    EXPECT_NE(
        artifact.status().message().find("unsupported .gaon format version " +
                                         std::to_string(version)),
        std::string::npos)
        << artifact.status().message();
  }
}

TEST(ArtifactTest, TruncationAtEveryOffsetIsAnError) {
  std::vector<uint8_t> bytes = diamondBytes();
  for (size_t length = 0; length < bytes.size(); ++length) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + length);
    auto artifact = ArtifactReader::readBytes(prefix);
    ASSERT_FALSE(artifact.isOk()) << "truncated to " << length;
    EXPECT_EQ(artifact.status().code(), StatusCode::DataLoss);
  }
  // Appended garbage is an error too.
  bytes.push_back(0);
  EXPECT_FALSE(ArtifactReader::readBytes(bytes).isOk());
}

TEST(ArtifactTest, EveryByteFlipIsDetected) {
  std::vector<uint8_t> original = diamondBytes();
  for (size_t i = 0; i < original.size(); ++i) {
    std::vector<uint8_t> bytes = original;
    bytes[i] ^= 0x5a;
    auto artifact = ArtifactReader::readBytes(bytes);
    // The version field yields FailedPrecondition, everything else DataLoss;
    // flips in alignment padding are caught by the checksums.
    EXPECT_FALSE(artifact.isOk()) << "flip at " << i;
  }
}

// Behind the checksum: random flips with checksum verification off reach
// the flatbuffer verifier and the semantic checks. They may be accepted
// (a flip in a float param is harmless) but must never crash.
TEST(ArtifactTest, RandomFlipsBehindTheChecksumNeverCrash) {
  std::vector<uint8_t> original = diamondBytes();
  ArtifactReadOptions options;
  options.verifyMetadataChecksum = false;
  options.verifyWeightsChecksum = false;
  std::mt19937_64 random(7);
  int rejected = 0;
  const int trials = 20000;
  for (int trial = 0; trial < trials; ++trial) {
    std::vector<uint8_t> bytes = original;
    int flips = 1 + random() % 4;
    for (int f = 0; f < flips; ++f) {
      size_t at = 16 + random() % (bytes.size() - 16); // keep magic/version
      bytes[at] = static_cast<uint8_t>(random());
    }
    auto artifact = ArtifactReader::readBytes(bytes, options);
    if (!artifact.isOk()) {
      ++rejected;
      continue;
    }
    // Accepted artifacts must be internally consistent.
    EXPECT_TRUE(validateModel(artifact.value()->model(),
                              artifact.value()->weightsSize())
                    .isOk());
  }
  std::printf("[artifact] %d of %d corrupted files rejected behind the "
              "checksum\n",
              rejected, trials);
  EXPECT_GT(rejected, 0);
}

// Artifacts whose checksums are right but whose contents are inconsistent
// (as a buggy compiler could produce).
struct BadModelCase {
  const char *name;
  void (*corrupt)(ModelDesc &);
  const char *expected;
};

TEST(ArtifactTest, OutOfRangeOffsetsAndReferencesAreRejected) {
  const BadModelCase cases[] = {
      {"weight beyond section",
       [](ModelDesc &m) { m.tensors[1].weightOffset = 1 << 20; },
       "outside the weights section"},
      {"unaligned weight", [](ModelDesc &m) { m.tensors[1].weightOffset = 4; },
       "aligned"},
      {"arena tensor beyond arena",
       [](ModelDesc &m) { m.tensors[0].arenaOffset = m.memoryPlan.arenaSize; },
       "outside the arena"},
      {"size disagrees with shape",
       [](ModelDesc &m) { m.tensors[0].sizeBytes += 4; }, "needs"},
      {"negative dimension", [](ModelDesc &m) { m.tensors[0].shape = {-4}; },
       "invalid shape"},
      {"unknown dtype",
       [](ModelDesc &m) { m.tensors[0].dtype = static_cast<DType>(8); },
       "unknown dtype"},
      {"duplicate tensor id", [](ModelDesc &m) { m.tensors[2].id = 0; },
       "used twice"},
      {"input refers to missing tensor",
       [](ModelDesc &m) { m.inputs[0] = 999; }, "missing tensor"},
      {"output refers to an input", [](ModelDesc &m) { m.outputs[0] = 0; },
       "is a input"},
      {"binding to missing tensor",
       [](ModelDesc &m) {
         m.programs[0].dispatches[0].bindings[0].tensorId = 77;
       },
       "binds missing tensor"},
      {"write to a weight",
       [](ModelDesc &m) {
         m.programs[0].dispatches[0].bindings[1].access = Access::Write;
       },
       "writes weight"},
      {"entry index out of range",
       [](ModelDesc &m) { m.programs[0].dispatches[0].entryIndex = 9; },
       "uses entry 9"},
      {"dependency on a later dispatch",
       [](ModelDesc &m) { m.programs[0].dispatches[1].dependsOn = {4}; },
       "not an earlier one"},
      {"self dependency",
       [](ModelDesc &m) { m.programs[0].dispatches[1].dependsOn = {1}; },
       "not an earlier one"},
      {"lower bound above arena",
       [](ModelDesc &m) {
         m.memoryPlan.lowerBound = m.memoryPlan.arenaSize + 1;
       },
       "lower bound"},
      {"bad alignment", [](ModelDesc &m) { m.memoryPlan.alignment = 3; },
       "power of two"},
      {"no target", [](ModelDesc &m) { m.target.clear(); }, "no target"},
      {"duplicate program",
       [](ModelDesc &m) { m.programs.push_back(m.programs[0]); },
       "two programs"},
  };
  for (const BadModelCase &c : cases) {
    ArtifactWriter writer = makeDiamond();
    c.corrupt(writer.mutableModel());
    EXPECT_FALSE(writer.serialize().isOk()) << c.name;
    auto bytes = writer.serialize(/*validate=*/false);
    ASSERT_TRUE(bytes.isOk()) << c.name;
    auto artifact = ArtifactReader::readBytes(bytes.value());
    ASSERT_FALSE(artifact.isOk()) << c.name;
    EXPECT_EQ(artifact.status().code(), StatusCode::DataLoss) << c.name;
    EXPECT_NE(artifact.status().message().find(c.expected), std::string::npos)
        << c.name << ": " << artifact.status().message();
  }
}

TEST(ArtifactTest, HeaderFieldsOutOfRange) {
  // Header offsets are checked before the checksum is even looked at.
  struct Patch {
    size_t offset;
    uint64_t value;
    const char *expected;
  };
  const Patch patches[] = {
      {16, 1, "header says the file has"},  // file size
      {24, 64, "metadata section"},         // metadata offset
      {32, 1ull << 40, "metadata section"}, // metadata size
      {40, 0, "weights section"},           // weights offset
      {48, 1ull << 40, "weights section"},  // weights size
  };
  for (const Patch &patch : patches) {
    std::vector<uint8_t> bytes = diamondBytes();
    std::memcpy(bytes.data() + patch.offset, &patch.value, 8);
    auto artifact = ArtifactReader::readBytes(bytes);
    ASSERT_FALSE(artifact.isOk());
    EXPECT_NE(artifact.status().message().find(patch.expected),
              std::string::npos)
        << artifact.status().message();
  }
}

} // namespace
} // namespace gaon::rt
