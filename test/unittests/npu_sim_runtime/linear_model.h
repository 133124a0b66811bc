// A hand-built npu-sim artifact: y = x @ W + b on the two-core tiny chip,
// each core computing half of the rows with DMA + matmul + vector add.
#ifndef GAON_TEST_NPU_SIM_RUNTIME_LINEAR_MODEL_H
#define GAON_TEST_NPU_SIM_RUNTIME_LINEAR_MODEL_H

#include "gaon/npu_sim_runtime/Executable.h"
#include "gaon/runtime/artifact.h"

#include <cstring>
#include <string>
#include <vector>

namespace gaon::npu_sim_runtime::testing {

struct LinearSpec {
  uint32_t m = 32, k = 64, n = 48; // m split over 2 cores
  std::string chip = "tiny";
  bool embedChipJson = true; // false: store the preset name
  bool deadlock = false;     // core 1's vector unit waits forever
};

// DRAM layout.
constexpr uint64_t kX = 0x0, kW = 0x4000, kB = 0x8000, kY = 0x9000;
constexpr uint64_t kDramBytes = 0x10000;

inline NpuExecutable makeLinearExecutable(const LinearSpec &spec, uint32_t xId,
                                          uint32_t wId, uint32_t bId,
                                          uint32_t yId) {
  using namespace gaon::npu_sim;
  NpuExecutable exe;
  exe.chipJson = spec.embedChipJson ? chipJsonFor(spec.chip) : spec.chip;
  const uint64_t xBytes = uint64_t(spec.m) * spec.k * 4;
  const uint64_t wBytes = uint64_t(spec.k) * spec.n * 4;
  const uint64_t bBytes = uint64_t(spec.n) * 4;
  const uint64_t yBytes = uint64_t(spec.m) * spec.n * 4;
  exe.bindings = {{xId, kX, xBytes, NpuBinding::Read},
                  {wId, kW, wBytes, NpuBinding::Read},
                  {bId, kB, bBytes, NpuBinding::Read},
                  {yId, kY, yBytes, NpuBinding::Write}};
  exe.dramBytes = kDramBytes;
  const uint32_t rows = spec.m / 2;
  const uint32_t lda = spec.k * 4, ldw = spec.n * 4;
  // Scratchpad layout (per core).
  const uint64_t sX = 0x0, sW = 0x2000, sB = 0x6000, sY = 0x7000;
  for (uint16_t c = 0; c < 2; ++c) {
    CoreBuilder core(exe.stream, c);
    core.dma(0, core.spm(sX), MemRef::dram(kX + uint64_t(c) * rows * lda),
             rows * lda);
    core.signal(UnitRef::dma(0), 0);
    core.dma(1, core.spm(sW), MemRef::dram(kW), static_cast<uint32_t>(wBytes));
    core.dma(1, core.spm(sB), MemRef::dram(kB), static_cast<uint32_t>(bBytes));
    core.signal(UnitRef::dma(1), 1);
    core.wait(UnitRef::tensor(), 0);
    core.wait(UnitRef::tensor(), 1);
    MatmulCmd mm;
    mm.m = rows;
    mm.n = spec.n;
    mm.k = spec.k;
    mm.inType = DType::F32;
    mm.outType = DType::F32;
    mm.a = sX;
    mm.lda = lda;
    mm.b = sW;
    mm.ldb = ldw;
    mm.c = sY;
    mm.ldc = ldw;
    core.matmul(mm);
    core.signal(UnitRef::tensor(), 2);
    core.wait(UnitRef::vector(), (spec.deadlock && c == 1) ? 9 : 2);
    core.binary(VecOp::Add, rows, spec.n, {sY, ldw, DType::F32},
                {sY, ldw, DType::F32}, {sB, 0, DType::F32}, Broadcast::Row);
    core.signal(UnitRef::vector(), 3);
    core.wait(UnitRef::dma(0), 3);
    core.dma(0, MemRef::dram(kY + uint64_t(c) * rows * ldw), core.spm(sY),
             rows * ldw);
  }
  return exe;
}

inline std::vector<float> linearWeights(const LinearSpec &spec) {
  std::vector<float> w(size_t(spec.k) * spec.n);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = 0.01f * float(int(i % 23) - 11);
  return w;
}
inline std::vector<float> linearBias(const LinearSpec &spec) {
  std::vector<float> b(spec.n);
  for (size_t i = 0; i < b.size(); ++i)
    b[i] = 0.5f - 0.03f * float(i);
  return b;
}

// The simulator's arithmetic: fp32, sequential over k, then + b.
inline std::vector<float> linearReference(const LinearSpec &spec,
                                          const std::vector<float> &x) {
  std::vector<float> w = linearWeights(spec), b = linearBias(spec);
  std::vector<float> y(size_t(spec.m) * spec.n);
  for (uint32_t i = 0; i < spec.m; ++i)
    for (uint32_t j = 0; j < spec.n; ++j) {
      float acc = 0;
      for (uint32_t p = 0; p < spec.k; ++p)
        acc += x[size_t(i) * spec.k + p] * w[size_t(p) * spec.n + j];
      y[size_t(i) * spec.n + j] = acc + b[j];
    }
  return y;
}

struct LinearArtifactOptions {
  std::string target = "npu-sim:tiny";
  std::string format = kNpuExecutableFormat;
  bool dropBias = false;     // the dispatch does not bind b
  bool extraBinding = false; // the dispatch also binds an unused tensor
  bool positional = false;   // no tensor ids in the params
  bool corruptExecutable = false;
};

inline rt::ArtifactWriter
makeLinearArtifact(const LinearSpec &spec,
                   const LinearArtifactOptions &o = {}) {
  using rt::Access;
  using rt::DType;
  rt::ArtifactWriter writer("linear", o.target);
  writer.setProducer("npu_sim_runtime tests");
  std::vector<float> w = linearWeights(spec), b = linearBias(spec);
  uint32_t x =
      writer.addInput("x", DType::F32, {int64_t(spec.m), int64_t(spec.k)});
  uint32_t wId =
      writer.addWeight("W", DType::F32, {int64_t(spec.k), int64_t(spec.n)},
                       w.data(), w.size() * 4);
  uint32_t bId = writer.addWeight("b", DType::F32, {int64_t(spec.n)}, b.data(),
                                  b.size() * 4);
  uint32_t y =
      writer.addOutput("y", DType::F32, {int64_t(spec.m), int64_t(spec.n)});
  uint32_t unused =
      o.extraBinding ? writer.addIntermediate("scratch", DType::F32, {16}) : 0;
  NpuExecutable exe = makeLinearExecutable(spec, x, wId, bId, y);
  std::vector<uint8_t> bytes = encodeExecutable(exe);
  if (o.corruptExecutable)
    bytes[bytes.size() / 2] ^= 0x40;
  uint32_t p = writer.addProgram(o.target, o.format, bytes, {kNpuEntryName});
  rt::DispatchDesc dispatch;
  std::vector<uint32_t> ids;
  auto bind = [&](uint32_t id, Access access) {
    dispatch.bindings.push_back({id, access});
    ids.push_back(id);
  };
  bind(x, Access::Read);
  bind(wId, Access::Read);
  if (!o.dropBias)
    bind(bId, Access::Read);
  bind(y, Access::Write);
  if (o.extraBinding)
    bind(unused, Access::Write);
  if (!o.positional)
    dispatch.params = encodeDispatchParams(ids);
  writer.addDispatch(p, dispatch);
  (void)writer.planMemory(p);
  return writer;
}

inline std::vector<float> linearInput(const LinearSpec &spec, float scale) {
  std::vector<float> x(size_t(spec.m) * spec.k);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = scale * float(int((i * 7) % 19) - 9) / 9.0f;
  return x;
}

} // namespace gaon::npu_sim_runtime::testing

#endif
