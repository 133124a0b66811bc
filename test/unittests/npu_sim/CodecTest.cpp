//===- CodecTest.cpp - Binary and text stream forms
//------------------------===//

#include "gaon/npu_sim/Codec.h"
#include "gaon/npu_sim/Simulator.h"
#include "gaon/npu_sim/Workloads.h"

#include <gtest/gtest.h>

#include <random>

using namespace gaon::npu_sim;

namespace {

// A stream that uses every instruction and most fields.
Stream sampleStream() {
  Stream stream;
  CoreBuilder c0(stream, 0), c1(stream, 1);
  DmaCmd dma;
  dma.src = MemRef::dram(0x1000);
  dma.dst = c0.spm(0x40);
  dma.rowBytes = 64;
  dma.rows = 4;
  dma.planes = 2;
  dma.srcRowStride = 256;
  dma.dstRowStride = 64;
  dma.srcPlaneStride = 4096;
  dma.dstPlaneStride = 256;
  c0.dma(1, dma);
  c0.dma(0, MemRef::spm(1, 0x100), c0.spm(0), 128);
  c0.dma(0, MemRef::shared(0x80), c0.spm(0), 32, 2);
  MatmulCmd mm;
  mm.m = 16, mm.n = 8, mm.k = 32, mm.inType = DType::I8,
  mm.outType = DType::I32;
  mm.accumulate = true, mm.transposeB = true, mm.a = 0x10, mm.b = 0x400,
  mm.c = 0x800;
  mm.lda = 32, mm.ldb = 32, mm.ldc = 32;
  c0.matmul(mm);
  c0.unary(VecOp::Scale, 4, 8, {0x100, 0, DType::F32}, {0x200, 0, DType::BF16},
           0.125f, -3.5f);
  c0.binary(VecOp::Sub, 4, 8, {0x100, 0, DType::F32}, {0x200, 0, DType::F32},
            {0x300, 0, DType::F32}, Broadcast::Col);
  c0.unary(VecOp::ReduceMax, 4, 8, {0x100, 0, DType::F16},
           {0x200, 0, DType::F32});
  // Version 2 additions: gather, broadcast DMA, select with independent
  // broadcasts, comparisons into bool, int64/bool dtypes, broadcast a.
  c0.gather(1, c0.spm(0x4000), MemRef::dram(0x10000), 96, 50, c0.spm(0x3000),
            DType::I64, 6, 128);
  c0.broadcastDma(0, c0.spm(0x5000), MemRef::dram(0x20), 48, 3);
  c0.select(4, 8, {0x100, 0, DType::BF16}, {0x500, 0, DType::Bool},
            {0x600, 0, DType::F32}, {0x700, 0, DType::F16}, Broadcast::Row,
            Broadcast::None, Broadcast::Scalar);
  c0.binary(VecOp::CmpLe, 4, 8, {0x800, 0, DType::Bool}, {0x900, 0, DType::I64},
            {0xa00, 0, DType::I32}, Broadcast::Col);
  c0.unary(VecOp::Not, 4, 8, {0xb00, 0, DType::I64}, {0xc00, 0, DType::I64});
  VectorCmd expand;
  expand.op = VecOp::GeluTanh, expand.rows = 4, expand.cols = 8;
  expand.dst = {0xd00, 32, DType::F32}, expand.a = {0xe00, 0, DType::F32};
  expand.bcastA = Broadcast::Row;
  c0.vector(expand);
  c0.signal(UnitRef::vector(), 3, 2, 1);
  c0.wait(UnitRef::tensor(), 5, 1);
  c0.barrier(UnitRef::dma(0), 7, 2);
  c1.wait(UnitRef::vector(), 3, 2);
  // A multicast DMA: the first DMA's rows written to cores 0 and 1.
  DmaCmd cast = dma;
  cast.dst = MemRef::spm(0, 0x6000);
  cast.multicast = 2;
  c1.dma(0, cast);
  c1.barrier(UnitRef::dma(1), 7, 2);
  return stream;
}

uint32_t crc32(const uint8_t *data, size_t size) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) {
    crc ^= data[i];
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc & 1) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
  }
  return crc ^ 0xFFFFFFFFu;
}

void resign(std::vector<uint8_t> &bytes) {
  uint32_t crc = crc32(bytes.data(), bytes.size() - 4);
  for (int i = 0; i < 4; ++i)
    bytes[bytes.size() - 4 + i] = static_cast<uint8_t>(crc >> (8 * i));
}

std::string decodeError(const std::vector<uint8_t> &bytes) {
  try {
    decodeBinary(bytes.data(), bytes.size());
  } catch (const SimError &error) {
    return error.what();
  }
  return "";
}

ChipDesc loadChipForFuzz() { return loadChip("tiny"); }

std::string parseError(const std::string &text) {
  try {
    parseText(text, "s.txt");
  } catch (const SimError &error) {
    return error.what();
  }
  return "";
}

} // namespace

TEST(Codec, TextRoundTrips) {
  Stream stream = sampleStream();
  std::string text = printText(stream);
  Stream parsed = parseText(text);
  EXPECT_EQ(parsed, stream);
  EXPECT_EQ(printText(parsed), text);
}

TEST(Codec, BinaryRoundTrips) {
  Stream stream = sampleStream();
  std::vector<uint8_t> bytes = encodeBinary(stream);
  EXPECT_EQ(decodeBinary(bytes.data(), bytes.size()), stream);
}

TEST(Codec, GeneratedWorkloadRoundTripsBothForms) {
  Stream bert = makeBertStream(loadChip("rngd"), BertSpec{1});
  std::vector<uint8_t> bytes = encodeBinary(bert);
  EXPECT_EQ(decodeBinary(bytes.data(), bytes.size()), bert);
  EXPECT_EQ(parseText(printText(bert)), bert);
}

TEST(Codec, EveryTruncationIsAnError) {
  std::vector<uint8_t> bytes = encodeBinary(sampleStream());
  for (size_t size = 0; size < bytes.size(); ++size) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + size);
    EXPECT_FALSE(decodeError(cut).empty()) << "size " << size;
  }
  std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + 40);
  resign(cut); // a truncation with a valid checksum still fails on lengths
  EXPECT_NE(decodeError(cut).find("truncated"), std::string::npos)
      << decodeError(cut);
}

TEST(Codec, EveryByteFlipIsAnError) {
  std::vector<uint8_t> bytes = encodeBinary(sampleStream());
  for (size_t i = 0; i < bytes.size(); ++i)
    for (uint8_t mask : {0x01, 0x80, 0xFF}) {
      std::vector<uint8_t> flipped = bytes;
      flipped[i] ^= mask;
      EXPECT_FALSE(decodeError(flipped).empty()) << "byte " << i;
    }
}

TEST(Codec, ForgedChecksumStillChecksFields) {
  std::vector<uint8_t> bytes = encodeBinary(sampleStream());
  const size_t firstInstr = 16; // header 12 + instruction count 4
  std::vector<uint8_t> badOpcode = bytes;
  badOpcode[firstInstr] = 99;
  resign(badOpcode);
  EXPECT_NE(decodeError(badOpcode).find("opcode 99 is not 1-8"),
            std::string::npos);
  std::vector<uint8_t> badLength = bytes;
  badLength[firstInstr + 3] = 7;
  resign(badLength);
  EXPECT_NE(decodeError(badLength).find("version 2 has 66"), std::string::npos);
  std::vector<uint8_t> hugeCount = bytes;
  hugeCount[12] = hugeCount[13] = hugeCount[14] = hugeCount[15] = 0xFF;
  resign(hugeCount);
  EXPECT_NE(decodeError(hugeCount).find("claims 4294967295 instructions"),
            std::string::npos);
  std::vector<uint8_t> badVersion = bytes;
  badVersion[4] = 9;
  resign(badVersion);
  EXPECT_NE(decodeError(badVersion).find("version 9 is not supported"),
            std::string::npos);
  std::vector<uint8_t> badMagic = bytes;
  badMagic[0] = 'X';
  EXPECT_NE(decodeError(badMagic).find("bad magic"), std::string::npos);
  std::vector<uint8_t> flipped = bytes;
  flipped[30] ^= 1;
  EXPECT_NE(decodeError(flipped).find("checksum"), std::string::npos)
      << decodeError(flipped);
}

TEST(Codec, TextErrorsNameLine) {
  EXPECT_EQ(parseError("dma0: wait sem=1"),
            "s.txt:1: instruction before any 'core N' line");
  EXPECT_EQ(parseError("core 0\n  tensor: wait sem=1 cnt=2"),
            "s.txt:2: unknown field 'cnt'");
  EXPECT_EQ(parseError("core 0\n\n  gpu: wait sem=1"),
            "s.txt:3: unknown unit 'gpu' (dma<N>, tensor, vector)");
  EXPECT_EQ(parseError("core 0\n  vector: frobnicate rows=1"),
            "s.txt:2: unknown instruction 'frobnicate'");
  EXPECT_EQ(parseError("core 0\n  tensor: matmul m=4 n=4"),
            "s.txt:2: missing field 'k'");
  EXPECT_EQ(
      parseError("core 0\n  vector: add rows=1 cols=1 dst=0:4:fp32 a=0:4:fp32"),
      "s.txt:2: add needs operand b");
  EXPECT_EQ(parseError("core 0\n  dma0: dma dst=spm:0 src=flash:0 row_bytes=4"),
            "s.txt:2: src=flash:0: unknown memory space 'flash'");
  EXPECT_EQ(parseError("core 0\n  dma0: wait sem=-1"),
            "s.txt:2: sem=-1 is not a non-negative integer");
  EXPECT_EQ(parseError("core 0\n  dma0: wait sem=70000"),
            "s.txt:2: sem=70000 exceeds 65535");
}

TEST(Codec, TextAcceptsCommentsAndOwnCoreScratchpad) {
  Stream stream =
      parseText("# hello\ncore 1 # second core\n"
                "  dma0: dma dst=spm:0x10 src=dram:16 row_bytes=8 # copy\n");
  ASSERT_EQ(stream.cores.size(), 2u);
  const auto &dma = std::get<DmaCmd>(stream.cores[1][0].cmd);
  EXPECT_EQ(dma.dst, MemRef::spm(1, 0x10));
  EXPECT_EQ(dma.src, MemRef::dram(16));
}

TEST(Codec, MutatedStreamsWithValidChecksumNeverCrash) {
  // Random byte edits re-signed with a valid checksum reach the field checks,
  // the validator and the engine: each must either run or raise SimError.
  ChipDesc chip = loadChipForFuzz();
  std::vector<uint8_t> bytes = encodeBinary(sampleStream());
  std::mt19937 rng(42);
  RunOptions timingOnly;
  timingOnly.functional = false;
  int decoded = 0;
  for (int iteration = 0; iteration < 3000; ++iteration) {
    std::vector<uint8_t> mutated = bytes;
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e)
      mutated[12 + rng() % (mutated.size() - 16)] = static_cast<uint8_t>(rng());
    resign(mutated);
    try {
      Stream stream = decodeBinary(mutated.data(), mutated.size());
      ++decoded;
      Simulator(chip).run(stream, timingOnly);
    } catch (const SimError &) {
    }
  }
  EXPECT_GT(decoded, 0);
}

TEST(Codec, RandomTextNeverCrashes) {
  std::mt19937 rng(7);
  const std::string alphabet = "core 01:=x.-dmatensorvecspmrow_bytes\n#";
  for (int iteration = 0; iteration < 2000; ++iteration) {
    std::string text = printText(sampleStream());
    for (int e = 0; e < 4; ++e)
      text[rng() % text.size()] = alphabet[rng() % alphabet.size()];
    try {
      parseText(text);
    } catch (const SimError &) {
    }
  }
}
