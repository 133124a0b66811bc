//===- Functional.cpp - Arithmetic of the DMA, tensor and vector units ----===//
//
// Operands are gathered row by row into float (int32 for int8) buffers, the
// arithmetic runs in fp32 with sequential accumulation, and results are
// rounded once, when stored in their dtype, as the hardware does.
//
//===----------------------------------------------------------------------===//

#include "Functional.h"

#include <cmath>
#include <cstring>

namespace gaon::npu_sim::detail {

namespace {

// Loads a strided rows x cols tile into a dense float buffer.
void loadTile(const PagedMemory &memory, uint64_t addr, uint64_t stride,
              DType type, uint32_t rows, uint32_t cols,
              std::vector<float> &out) {
  unsigned size = dtypeBytes(type);
  std::vector<uint8_t> raw(static_cast<size_t>(cols) * size);
  out.resize(static_cast<size_t>(rows) * cols);
  for (uint32_t r = 0; r < rows; ++r) {
    memory.read(addr + r * stride, raw.data(), raw.size());
    float *dst = out.data() + static_cast<size_t>(r) * cols;
    for (uint32_t c = 0; c < cols; ++c)
      dst[c] = loadElement(type, raw.data() + static_cast<size_t>(c) * size);
  }
}

void storeRow(PagedMemory &memory, uint64_t addr, DType type,
              const float *values, uint32_t cols, std::vector<uint8_t> &raw) {
  unsigned size = dtypeBytes(type);
  raw.resize(static_cast<size_t>(cols) * size);
  for (uint32_t c = 0; c < cols; ++c)
    storeElement(type, raw.data() + static_cast<size_t>(c) * size, values[c]);
  memory.write(addr, raw.data(), raw.size());
}

void loadIntTile(const PagedMemory &memory, uint64_t addr, uint64_t stride,
                 uint32_t rows, uint32_t cols, std::vector<int32_t> &out) {
  std::vector<uint8_t> raw(cols);
  out.resize(static_cast<size_t>(rows) * cols);
  for (uint32_t r = 0; r < rows; ++r) {
    memory.read(addr + r * stride, raw.data(), cols);
    for (uint32_t c = 0; c < cols; ++c)
      out[static_cast<size_t>(r) * cols + c] = static_cast<int8_t>(raw[c]);
  }
}

void executeIntMatmul(PagedMemory &spm, const MatmulCmd &cmd) {
  std::vector<int32_t> a, b;
  loadIntTile(spm, cmd.a, cmd.lda, cmd.m, cmd.k, a);
  if (cmd.transposeB) {
    std::vector<int32_t> bt;
    loadIntTile(spm, cmd.b, cmd.ldb, cmd.n, cmd.k, bt);
    b.resize(static_cast<size_t>(cmd.k) * cmd.n);
    for (uint32_t j = 0; j < cmd.n; ++j)
      for (uint32_t kk = 0; kk < cmd.k; ++kk)
        b[static_cast<size_t>(kk) * cmd.n + j] =
            bt[static_cast<size_t>(j) * cmd.k + kk];
  } else {
    loadIntTile(spm, cmd.b, cmd.ldb, cmd.k, cmd.n, b);
  }
  // int32 accumulators wrap like the hardware's; unsigned math avoids UB.
  std::vector<uint32_t> acc(cmd.n);
  for (uint32_t i = 0; i < cmd.m; ++i) {
    uint64_t rowAddr = cmd.c + static_cast<uint64_t>(i) * cmd.ldc;
    if (cmd.accumulate)
      spm.read(rowAddr, acc.data(), acc.size() * 4);
    else
      std::fill(acc.begin(), acc.end(), 0u);
    for (uint32_t kk = 0; kk < cmd.k; ++kk) {
      uint32_t av =
          static_cast<uint32_t>(a[static_cast<size_t>(i) * cmd.k + kk]);
      const int32_t *brow = b.data() + static_cast<size_t>(kk) * cmd.n;
      for (uint32_t j = 0; j < cmd.n; ++j)
        acc[j] += av * static_cast<uint32_t>(brow[j]);
    }
    spm.write(rowAddr, acc.data(), acc.size() * 4);
  }
}

float applyUnary(VecOp op, float x, float alpha, float beta) {
  switch (op) {
  case VecOp::Cast:
    return x;
  case VecOp::Exp:
    return std::exp(x);
  case VecOp::Log:
    return std::log(x);
  case VecOp::Sqrt:
    return std::sqrt(x);
  case VecOp::Rsqrt:
    return 1.0f / std::sqrt(x);
  case VecOp::Recip:
    return 1.0f / x;
  case VecOp::Erf:
    return std::erf(x);
  case VecOp::Tanh:
    return std::tanh(x);
  case VecOp::Sigmoid:
    return 1.0f / (1.0f + std::exp(-x));
  case VecOp::Relu:
    return x > 0.0f ? x : 0.0f;
  case VecOp::Neg:
    return -x;
  case VecOp::Abs:
    return std::fabs(x);
  case VecOp::Scale:
    return x * alpha + beta;
  default:
    return x;
  }
}

float applyBinary(VecOp op, float x, float y) {
  switch (op) {
  case VecOp::Add:
    return x + y;
  case VecOp::Sub:
    return x - y;
  case VecOp::Mul:
    return x * y;
  case VecOp::Div:
    return x / y;
  case VecOp::Max:
    return std::fmax(x, y);
  case VecOp::Min:
    return std::fmin(x, y);
  default:
    return x;
  }
}

} // namespace

void executeDma(ChipMemory &memory, const DmaCmd &cmd) {
  std::vector<uint8_t> row(cmd.rowBytes);
  PagedMemory &src = memory.at(cmd.src);
  PagedMemory &dst = memory.at(cmd.dst);
  for (uint32_t p = 0; p < cmd.planes; ++p)
    for (uint32_t r = 0; r < cmd.rows; ++r) {
      src.read(cmd.src.addr + p * cmd.srcPlaneStride + r * cmd.srcRowStride,
               row.data(), row.size());
      dst.write(cmd.dst.addr + p * cmd.dstPlaneStride + r * cmd.dstRowStride,
                row.data(), row.size());
    }
}

void executeMatmul(PagedMemory &spm, const MatmulCmd &cmd) {
  if (cmd.inType == DType::I8)
    return executeIntMatmul(spm, cmd);
  std::vector<float> a, b, acc(cmd.n);
  std::vector<uint8_t> raw;
  loadTile(spm, cmd.a, cmd.lda, cmd.inType, cmd.m, cmd.k, a);
  if (cmd.transposeB) {
    std::vector<float> bt;
    loadTile(spm, cmd.b, cmd.ldb, cmd.inType, cmd.n, cmd.k, bt);
    b.resize(static_cast<size_t>(cmd.k) * cmd.n);
    for (uint32_t j = 0; j < cmd.n; ++j)
      for (uint32_t kk = 0; kk < cmd.k; ++kk)
        b[static_cast<size_t>(kk) * cmd.n + j] =
            bt[static_cast<size_t>(j) * cmd.k + kk];
  } else {
    loadTile(spm, cmd.b, cmd.ldb, cmd.inType, cmd.k, cmd.n, b);
  }
  std::vector<float> old;
  for (uint32_t i = 0; i < cmd.m; ++i) {
    uint64_t rowAddr = cmd.c + static_cast<uint64_t>(i) * cmd.ldc;
    if (cmd.accumulate) {
      loadTile(spm, rowAddr, 0, cmd.outType, 1, cmd.n, old);
      std::copy(old.begin(), old.end(), acc.begin());
    } else {
      std::fill(acc.begin(), acc.end(), 0.0f);
    }
    for (uint32_t kk = 0; kk < cmd.k; ++kk) {
      float av = a[static_cast<size_t>(i) * cmd.k + kk];
      const float *brow = b.data() + static_cast<size_t>(kk) * cmd.n;
      for (uint32_t j = 0; j < cmd.n; ++j)
        acc[j] += av * brow[j];
    }
    storeRow(spm, rowAddr, cmd.outType, acc.data(), cmd.n, raw);
  }
}

void executeVector(PagedMemory &spm, const VectorCmd &cmd) {
  std::vector<float> a, b, out(cmd.cols);
  std::vector<uint8_t> raw;
  bool binary = isBinaryVecOp(cmd.op);
  if (binary && (cmd.bcast == Broadcast::Row || cmd.bcast == Broadcast::Scalar))
    loadTile(spm, cmd.b.addr, cmd.b.stride, cmd.b.type, 1,
             cmd.bcast == Broadcast::Row ? cmd.cols : 1, b);
  for (uint32_t r = 0; r < cmd.rows; ++r) {
    loadTile(spm, cmd.a.addr + static_cast<uint64_t>(r) * cmd.a.stride, 0,
             cmd.a.type, 1, cmd.cols, a);
    uint64_t dstAddr = cmd.dst.addr + static_cast<uint64_t>(r) * cmd.dst.stride;
    if (isReductionVecOp(cmd.op)) {
      float result = cmd.op == VecOp::ReduceSum ? 0.0f : -INFINITY;
      for (float x : a)
        result = cmd.op == VecOp::ReduceSum ? result + x : std::fmax(result, x);
      storeRow(spm, dstAddr, cmd.dst.type, &result, 1, raw);
      continue;
    }
    if (binary) {
      if (cmd.bcast == Broadcast::None || cmd.bcast == Broadcast::Col)
        loadTile(spm, cmd.b.addr + static_cast<uint64_t>(r) * cmd.b.stride, 0,
                 cmd.b.type, 1, cmd.bcast == Broadcast::None ? cmd.cols : 1, b);
      for (uint32_t c = 0; c < cmd.cols; ++c) {
        float y = (cmd.bcast == Broadcast::None || cmd.bcast == Broadcast::Row)
                      ? b[c]
                      : b[0];
        out[c] = applyBinary(cmd.op, a[c], y);
      }
    } else {
      for (uint32_t c = 0; c < cmd.cols; ++c)
        out[c] = applyUnary(cmd.op, a[c], cmd.alpha, cmd.beta);
    }
    storeRow(spm, dstAddr, cmd.dst.type, out.data(), cmd.cols, raw);
  }
}

} // namespace gaon::npu_sim::detail
