//===- Functional.cpp - Arithmetic of the DMA, tensor and vector units ----===//
//
// Matmul operands are gathered row by row into float (int32 for int8)
// buffers, the arithmetic runs in fp32 with sequential accumulation, and
// results are rounded once, when stored in their dtype, as the hardware does.
// Vector ops compute in double, or in int64 when every input is an integer
// or bool and the op is exact on integers, and round once on store.
//
//===----------------------------------------------------------------------===//

#include "Functional.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>

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

// Reads the rows x cols input an operand covers, broadcasting as asked; row
// r of the op sees row(r)[c] for c < cols.
template <typename T> class OperandRows {
public:
  OperandRows(const PagedMemory &memory, const VecOperand &operand,
              Broadcast bcast, uint32_t cols)
      : memory(memory), operand(operand), bcast(bcast), cols(cols),
        values(cols) {
    if (bcast == Broadcast::Row || bcast == Broadcast::Scalar)
      fill(0);
  }
  const T *row(uint32_t r) {
    if (bcast == Broadcast::None || bcast == Broadcast::Col)
      fill(r);
    return values.data();
  }

private:
  void fill(uint32_t r) {
    bool whole = bcast == Broadcast::None || bcast == Broadcast::Row;
    uint32_t count = whole ? cols : 1;
    unsigned size = dtypeBytes(operand.type);
    raw.resize(static_cast<size_t>(count) * size);
    memory.read(operand.addr + static_cast<uint64_t>(r) * operand.stride,
                raw.data(), raw.size());
    for (uint32_t c = 0; c < count; ++c) {
      const uint8_t *src = raw.data() + static_cast<size_t>(c) * size;
      if constexpr (std::is_same_v<T, int64_t>)
        values[c] = loadElementI64(operand.type, src);
      else
        values[c] = loadElementF64(operand.type, src);
    }
    if (!whole)
      std::fill(values.begin() + 1, values.end(), values[0]);
  }
  const PagedMemory &memory;
  const VecOperand &operand;
  Broadcast bcast;
  uint32_t cols;
  std::vector<T> values;
  std::vector<uint8_t> raw;
};

constexpr double kSqrtHalf = 0.70710678118654752440;
constexpr double kSqrtTwoOverPi = 0.79788456080286535588;

double applyFloat(VecOp op, double x, double y, double alpha, double beta) {
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
  case VecOp::Exp:
    return std::exp(x);
  case VecOp::Log:
    return std::log(x);
  case VecOp::Sqrt:
    return std::sqrt(x);
  case VecOp::Rsqrt:
    return 1.0 / std::sqrt(x);
  case VecOp::Recip:
    return 1.0 / x;
  case VecOp::Erf:
    return std::erf(x);
  case VecOp::Tanh:
    return std::tanh(x);
  case VecOp::Sigmoid:
    return 1.0 / (1.0 + std::exp(-x));
  case VecOp::Relu:
    return x > 0.0 ? x : 0.0;
  case VecOp::Neg:
    return -x;
  case VecOp::Abs:
    return std::fabs(x);
  case VecOp::Scale:
    return x * alpha + beta;
  case VecOp::CmpEq:
    return x == y;
  case VecOp::CmpNe:
    return x != y;
  case VecOp::CmpLt:
    return x < y;
  case VecOp::CmpLe:
    return x <= y;
  case VecOp::CmpGt:
    return x > y;
  case VecOp::CmpGe:
    return x >= y;
  case VecOp::Sin:
    return std::sin(x);
  case VecOp::Cos:
    return std::cos(x);
  case VecOp::Floor:
    return std::floor(x);
  case VecOp::Ceil:
    return std::ceil(x);
  case VecOp::Round:
    return std::nearbyint(x); // default rounding mode: half to even
  case VecOp::Pow:
    return std::pow(x, y);
  case VecOp::Mod: {
    double r = std::fmod(x, y);
    if (r != 0 && ((r < 0) != (y < 0)))
      r += y;
    return r;
  }
  case VecOp::FMod:
    return std::fmod(x, y);
  case VecOp::Silu:
    return x / (1.0 + std::exp(-x));
  case VecOp::Gelu:
    return 0.5 * x * (1.0 + std::erf(x * kSqrtHalf));
  case VecOp::GeluTanh:
    return 0.5 * x *
           (1.0 + std::tanh(kSqrtTwoOverPi * (x + 0.044715 * x * x * x)));
  default: // cast
    return x;
  }
}

int64_t wrap(uint64_t bits) { return static_cast<int64_t>(bits); }

int64_t applyInt(VecOp op, int64_t x, int64_t y, bool boolA) {
  uint64_t ux = static_cast<uint64_t>(x), uy = static_cast<uint64_t>(y);
  const int64_t minValue = std::numeric_limits<int64_t>::min();
  switch (op) {
  case VecOp::Add:
    return wrap(ux + uy);
  case VecOp::Sub:
    return wrap(ux - uy);
  case VecOp::Mul:
    return wrap(ux * uy);
  case VecOp::Div:
    if (y == 0)
      return 0;
    if (x == minValue && y == -1)
      return minValue;
    return x / y;
  case VecOp::Mod:
  case VecOp::FMod: {
    if (y == 0 || y == -1)
      return 0;
    int64_t r = x % y;
    if (op == VecOp::Mod && r != 0 && ((r < 0) != (y < 0)))
      r += y;
    return r;
  }
  case VecOp::Max:
    return std::max(x, y);
  case VecOp::Min:
    return std::min(x, y);
  case VecOp::Neg:
    return wrap(0 - ux);
  case VecOp::Abs:
    return x < 0 ? wrap(0 - ux) : x;
  case VecOp::Relu:
    return x > 0 ? x : 0;
  case VecOp::CmpEq:
    return x == y;
  case VecOp::CmpNe:
    return x != y;
  case VecOp::CmpLt:
    return x < y;
  case VecOp::CmpLe:
    return x <= y;
  case VecOp::CmpGt:
    return x > y;
  case VecOp::CmpGe:
    return x >= y;
  case VecOp::And:
    return x & y;
  case VecOp::Or:
    return x | y;
  case VecOp::Xor:
    return x ^ y;
  case VecOp::Not:
    return boolA ? (x == 0) : ~x;
  default: // cast, floor, ceil, round: integers are exact
    return x;
  }
}

// Ops that are exact on integers: they run in int64 when every input they
// read is an integer or bool.
bool integerCapable(VecOp op) {
  switch (op) {
  case VecOp::Add:
  case VecOp::Sub:
  case VecOp::Mul:
  case VecOp::Div:
  case VecOp::Max:
  case VecOp::Min:
  case VecOp::Mod:
  case VecOp::FMod:
  case VecOp::Neg:
  case VecOp::Abs:
  case VecOp::Relu:
  case VecOp::Cast:
  case VecOp::Floor:
  case VecOp::Ceil:
  case VecOp::Round:
  case VecOp::Select:
  case VecOp::And:
  case VecOp::Or:
  case VecOp::Xor:
  case VecOp::Not:
  case VecOp::ReduceSum:
  case VecOp::ReduceMax:
  case VecOp::ReduceMin:
  case VecOp::ReduceProd:
    return true;
  default:
    return isComparisonVecOp(op);
  }
}

template <typename T> void runVector(PagedMemory &spm, const VectorCmd &cmd) {
  constexpr bool isInt = std::is_same_v<T, int64_t>;
  int arity = vecOpArity(cmd.op);
  bool reduction = isReductionVecOp(cmd.op);
  OperandRows<T> a(spm, cmd.a, reduction ? Broadcast::None : cmd.bcastA,
                   cmd.cols);
  std::optional<OperandRows<T>> b;
  std::optional<OperandRows<double>> c;
  if (arity >= 2)
    b.emplace(spm, cmd.b, cmd.bcast, cmd.cols);
  if (arity >= 3)
    c.emplace(spm, cmd.c, cmd.bcastC, cmd.cols);
  bool boolA = cmd.a.type == DType::Bool;
  unsigned outSize = dtypeBytes(cmd.dst.type);
  std::vector<uint8_t> raw(static_cast<size_t>(cmd.cols) * outSize);
  auto store = [&](uint8_t *dst, T value) {
    if constexpr (isInt)
      storeElementI64(cmd.dst.type, dst, value);
    else
      storeElementF64(cmd.dst.type, dst, value);
  };
  for (uint32_t r = 0; r < cmd.rows; ++r) {
    const T *x = a.row(r);
    uint64_t dstAddr = cmd.dst.addr + static_cast<uint64_t>(r) * cmd.dst.stride;
    if (reduction) {
      T result;
      if (cmd.op == VecOp::ReduceSum) {
        if constexpr (isInt) {
          uint64_t sum = 0;
          for (uint32_t i = 0; i < cmd.cols; ++i)
            sum += static_cast<uint64_t>(x[i]);
          result = wrap(sum);
        } else {
          result = 0;
          for (uint32_t i = 0; i < cmd.cols; ++i)
            result += x[i];
        }
      } else if (cmd.op == VecOp::ReduceProd) {
        if constexpr (isInt) {
          uint64_t product = 1; // unsigned: wraps without overflow UB
          for (uint32_t i = 0; i < cmd.cols; ++i)
            product *= static_cast<uint64_t>(x[i]);
          result = wrap(product);
        } else {
          result = 1;
          for (uint32_t i = 0; i < cmd.cols; ++i)
            result *= x[i];
        }
      } else {
        result = x[0];
        for (uint32_t i = 1; i < cmd.cols; ++i) {
          if constexpr (isInt)
            result = cmd.op == VecOp::ReduceMax ? std::max(result, x[i])
                                                : std::min(result, x[i]);
          else
            result = cmd.op == VecOp::ReduceMax ? std::fmax(result, x[i])
                                                : std::fmin(result, x[i]);
        }
      }
      store(raw.data(), result);
      spm.write(dstAddr, raw.data(), outSize);
      continue;
    }
    const T *y = b ? b->row(r) : nullptr;
    const double *cond = c ? c->row(r) : nullptr;
    for (uint32_t i = 0; i < cmd.cols; ++i) {
      T value;
      if (cond) {
        value = cond[i] != 0 ? x[i] : y[i];
      } else {
        T yi = y ? y[i] : T(0);
        if constexpr (isInt)
          value = applyInt(cmd.op, x[i], yi, boolA);
        else
          value = applyFloat(cmd.op, x[i], yi, cmd.alpha, cmd.beta);
      }
      store(raw.data() + static_cast<size_t>(i) * outSize, value);
    }
    spm.write(dstAddr, raw.data(), raw.size());
  }
}

} // namespace

void executeDma(ChipMemory &memory, const DmaCmd &cmd) {
  std::vector<uint8_t> row(cmd.rowBytes);
  PagedMemory &src = memory.at(cmd.src);
  std::vector<PagedMemory *> dsts;
  for (uint16_t i = 0; i < std::max<uint16_t>(cmd.multicast, 1); ++i) {
    MemRef to = cmd.dst;
    to.core = static_cast<uint16_t>(to.core + i);
    dsts.push_back(&memory.at(to));
  }
  for (uint32_t p = 0; p < cmd.planes; ++p)
    for (uint32_t r = 0; r < cmd.rows; ++r) {
      src.read(cmd.src.addr + p * cmd.srcPlaneStride + r * cmd.srcRowStride,
               row.data(), row.size());
      for (PagedMemory *dst : dsts)
        dst->write(cmd.dst.addr + p * cmd.dstPlaneStride + r * cmd.dstRowStride,
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
  bool intInputs = !isFloatType(cmd.a.type) &&
                   (vecOpArity(cmd.op) < 2 || !isFloatType(cmd.b.type));
  if (isBitwiseVecOp(cmd.op) || (intInputs && integerCapable(cmd.op)))
    runVector<int64_t>(spm, cmd);
  else
    runVector<double>(spm, cmd);
}

void executeGather(ChipMemory &memory, const GatherCmd &cmd) {
  unsigned indexBytes = dtypeBytes(cmd.indexType);
  std::vector<uint8_t> raw(static_cast<size_t>(cmd.count) * indexBytes);
  memory.at(cmd.indices).read(cmd.indices.addr, raw.data(), raw.size());
  // Check every index before moving anything: an error leaves dst intact.
  std::vector<uint64_t> rows(cmd.count);
  int64_t numRows = cmd.numRows;
  for (uint32_t i = 0; i < cmd.count; ++i) {
    int64_t index = loadElementI64(
        cmd.indexType, raw.data() + static_cast<size_t>(i) * indexBytes);
    int64_t row = index < 0 ? index + numRows : index;
    if (index < -numRows || row < 0 || row >= numRows)
      throw SimError("gather index " + std::to_string(index) + " (indices[" +
                     std::to_string(i) + "]) is out of range for a table of " +
                     std::to_string(numRows) + " rows (valid: [" +
                     std::to_string(-numRows) + ", " + std::to_string(numRows) +
                     "))");
    rows[i] = static_cast<uint64_t>(row);
  }
  PagedMemory &table = memory.at(cmd.table);
  PagedMemory &dst = memory.at(cmd.dst);
  std::vector<uint8_t> buffer(cmd.rowBytes);
  for (uint32_t i = 0; i < cmd.count; ++i) {
    table.read(cmd.table.addr + rows[i] * cmd.tableRowStride, buffer.data(),
               buffer.size());
    dst.write(cmd.dst.addr + static_cast<uint64_t>(i) * cmd.dstRowStride,
              buffer.data(), buffer.size());
  }
}

} // namespace gaon::npu_sim::detail
