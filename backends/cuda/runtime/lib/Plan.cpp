//===- Plan.cpp - Encoding and decoding "cuda-plan" executables -----------===//
//
// Layout (little-endian; see Plan.h):
//
//   "GCUP" | u32 version | str arch | u32 nmodules | nmodules x str ptx
//   | u32 bindingCount | u32 nsteps | nsteps x (u8 kind | fields)
//
//   str        u32 length | bytes
//   ptr        u32 binding | u64 offset
//   Launch     u32 module | str kernel | 3 x u32 grid | 3 x u32 block
//              | u32 sharedBytes | u32 nargs | nargs x (u8 kind | payload:
//              ptr, i32, i64 or f32)
//   Matmul     i32 dtype | u8 f32Out | i64 m, n, k, batch | u8 transA, transB
//              | i64 lda, ldb, ldd, strideA, strideB, strideD | f32 alpha,
//              beta | u8 epilogue | ptr a, b, d, bias, c
//   Attention  i32 dtype | i32 batch, heads, kvHeads, seqQ, seqK, headDim
//              | f32 scale | u8 causal, hasMask | ptr q, k, v, o, mask
//              | 5 x 3 x i64 strides (q, k, v, o, mask)
//   Copy       ptr src, dst | u64 bytes
//
// The decoder never trusts a count: every element costs at least one byte,
// so a count larger than the bytes left is refused before anything is
// reserved.
//
//===----------------------------------------------------------------------===//

#include "gaon/cuda_runtime/Plan.h"

#include <cmath>
#include <cstring>
#include <sstream>
#include <type_traits>

namespace gaon::cuda {
namespace {

using rt::Status;
using rt::StatusCode;

enum class StepKind : uint8_t {
  Launch = 0,
  Matmul = 1,
  Attention = 2,
  Copy = 3
};

bool hasBias(Epilogue epilogue) {
  return epilogue == Epilogue::Bias || epilogue == Epilogue::BiasGelu ||
         epilogue == Epilogue::BiasRelu;
}

// ---------------------------------------------------------------------------
// Encoding

class Writer {
public:
  template <typename T> void put(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    uint8_t bytes[sizeof(T)];
    std::memcpy(bytes, &value, sizeof(T));
    // Little-endian on every host this runs on; spelled out for clarity.
    out_.insert(out_.end(), bytes, bytes + sizeof(T));
  }
  void u8(uint8_t v) { put(v); }
  void u32(uint32_t v) { put(v); }
  void i32(int32_t v) { put(v); }
  void i64(int64_t v) { put(v); }
  void u64(uint64_t v) { put(v); }
  void f32(float v) { put(v); }
  void str(const std::string &s) {
    u32(static_cast<uint32_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void ptr(const DevicePtr &p) {
    u32(p.binding);
    u64(p.offset);
  }
  std::vector<uint8_t> take() { return std::move(out_); }

private:
  std::vector<uint8_t> out_;
};

void encodeStep(Writer &w, const LaunchStep &s) {
  w.u8(static_cast<uint8_t>(StepKind::Launch));
  w.u32(s.module);
  w.str(s.kernel);
  for (uint32_t v : s.grid)
    w.u32(v);
  for (uint32_t v : s.block)
    w.u32(v);
  w.u32(s.sharedBytes);
  w.u32(static_cast<uint32_t>(s.args.size()));
  for (const KernelArg &a : s.args) {
    w.u8(static_cast<uint8_t>(a.kind));
    switch (a.kind) {
    case KernelArg::Kind::Pointer:
      w.ptr(a.pointer);
      break;
    case KernelArg::Kind::I32:
      w.i32(static_cast<int32_t>(a.integer));
      break;
    case KernelArg::Kind::I64:
      w.i64(a.integer);
      break;
    case KernelArg::Kind::F32:
      w.f32(a.real);
      break;
    }
  }
}

void encodeStep(Writer &w, const MatmulStep &s) {
  w.u8(static_cast<uint8_t>(StepKind::Matmul));
  w.i32(static_cast<int32_t>(s.dtype));
  w.u8(s.f32Out);
  for (int64_t v : {s.m, s.n, s.k, s.batch})
    w.i64(v);
  w.u8(s.transA);
  w.u8(s.transB);
  for (int64_t v : {s.lda, s.ldb, s.ldd, s.strideA, s.strideB, s.strideD})
    w.i64(v);
  w.f32(s.alpha);
  w.f32(s.beta);
  w.u8(static_cast<uint8_t>(s.epilogue));
  for (const DevicePtr *p : {&s.a, &s.b, &s.d, &s.bias, &s.c})
    w.ptr(*p);
}

void encodeStep(Writer &w, const AttentionStep &s) {
  w.u8(static_cast<uint8_t>(StepKind::Attention));
  w.i32(static_cast<int32_t>(s.dtype));
  for (int32_t v : {s.batch, s.heads, s.kvHeads, s.seqQ, s.seqK, s.headDim})
    w.i32(v);
  w.f32(s.scale);
  w.u8(s.causal);
  w.u8(s.hasMask);
  for (const DevicePtr *p : {&s.q, &s.k, &s.v, &s.o, &s.mask})
    w.ptr(*p);
  for (const int64_t *strides :
       {s.qStride, s.kStride, s.vStride, s.oStride, s.maskStride})
    for (int i = 0; i < 3; ++i)
      w.i64(strides[i]);
}

void encodeStep(Writer &w, const CopyStep &s) {
  w.u8(static_cast<uint8_t>(StepKind::Copy));
  w.ptr(s.src);
  w.ptr(s.dst);
  w.u64(s.bytes);
}

// ---------------------------------------------------------------------------
// Decoding

class Reader {
public:
  Reader(const uint8_t *data, uint64_t size) : data_(data), size_(size) {}

  uint64_t left() const { return size_ - pos_; }
  uint64_t position() const { return pos_; }
  bool failed() const { return !error_.empty(); }
  const std::string &error() const { return error_; }
  void fail(std::string message) {
    if (error_.empty())
      error_ = std::move(message);
  }

  template <typename T> T get(const char *what) {
    T value{};
    if (failed())
      return value;
    if (left() < sizeof(T)) {
      fail(std::string("truncated: ") + what + " needs " +
           std::to_string(sizeof(T)) + " bytes at offset " +
           std::to_string(pos_) + ", " + std::to_string(left()) + " left");
      return value;
    }
    std::memcpy(&value, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }
  uint8_t u8(const char *what) { return get<uint8_t>(what); }
  uint32_t u32(const char *what) { return get<uint32_t>(what); }
  int32_t i32(const char *what) { return get<int32_t>(what); }
  int64_t i64(const char *what) { return get<int64_t>(what); }
  uint64_t u64(const char *what) { return get<uint64_t>(what); }
  float f32(const char *what) { return get<float>(what); }

  bool boolean(const char *what) {
    uint8_t v = u8(what);
    if (v > 1)
      fail(std::string(what) + " is " + std::to_string(v) + ", not 0 or 1");
    return v == 1;
  }

  std::string str(const char *what) {
    uint32_t length = u32(what);
    if (failed())
      return "";
    if (length > left()) {
      fail(std::string("truncated: ") + what + " of " + std::to_string(length) +
           " bytes at offset " + std::to_string(pos_) + ", " +
           std::to_string(left()) + " left");
      return "";
    }
    std::string s(reinterpret_cast<const char *>(data_ + pos_), length);
    pos_ += length;
    return s;
  }

  /// A count of elements of at least `minBytes` each, checked against the
  /// bytes left so that no corrupted count makes us reserve gigabytes.
  uint32_t count(const char *what, uint64_t minBytes) {
    uint32_t n = u32(what);
    if (!failed() && static_cast<uint64_t>(n) * minBytes > left())
      fail(std::string("truncated: ") + what + " " + std::to_string(n) +
           " needs at least " + std::to_string(n * minBytes) + " bytes, " +
           std::to_string(left()) + " left");
    return failed() ? 0 : n;
  }

  DevicePtr ptr(const char *what) {
    DevicePtr p;
    p.binding = u32(what);
    p.offset = u64(what);
    return p;
  }

private:
  const uint8_t *data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  std::string error_;
};

// Semantic checks of one decoded step; "" or the first problem.
class StepChecker {
public:
  StepChecker(const Plan &plan) : plan_(plan) {}

  std::string check(const Step &step) {
    error_.clear();
    std::visit([&](const auto &s) { checkStep(s); }, step);
    return error_;
  }

private:
  void fail(std::string message) {
    if (error_.empty())
      error_ = std::move(message);
  }
  void pointer(const char *what, const DevicePtr &p) {
    if (p.binding >= plan_.bindingCount)
      fail(std::string(what) + " uses binding " + std::to_string(p.binding) +
           " but the plan has " + std::to_string(plan_.bindingCount) +
           " bindings");
  }
  void positive(const char *what, int64_t v) {
    if (v <= 0)
      fail(std::string(what) + " must be positive, got " + std::to_string(v));
  }
  void nonNegative(const char *what, int64_t v) {
    if (v < 0)
      fail(std::string(what) + " must not be negative, got " +
           std::to_string(v));
  }
  void atLeast(const char *what, int64_t v, const char *boundName,
               int64_t bound) {
    if (v < bound)
      fail(std::string(what) + " " + std::to_string(v) + " is less than " +
           boundName + " " + std::to_string(bound));
  }
  static bool floatDType(rt::DType t) {
    return t == rt::DType::F32 || t == rt::DType::F16 || t == rt::DType::BF16;
  }
  void dtype(rt::DType t) {
    if (!floatDType(t))
      fail(std::string("dtype ") + rt::dtypeName(t) + " (" +
           std::to_string(static_cast<int32_t>(t)) +
           ") is not f32, f16 or bf16");
  }

  void checkStep(const LaunchStep &s) {
    if (s.module >= plan_.modules.size())
      fail("module " + std::to_string(s.module) + " does not exist (the plan " +
           "has " + std::to_string(plan_.modules.size()) + " modules)");
    if (s.kernel.empty())
      fail("empty kernel name");
    if (s.kernel.find('\0') != std::string::npos)
      fail("kernel name contains a NUL byte");
    for (int i = 0; i < 3; ++i) {
      if (s.grid[i] == 0)
        fail("grid dimension " + std::to_string(i) + " is 0");
      if (s.block[i] == 0)
        fail("block dimension " + std::to_string(i) + " is 0");
    }
    for (size_t i = 0; i < s.args.size(); ++i)
      if (s.args[i].kind == KernelArg::Kind::Pointer)
        pointer(("argument " + std::to_string(i)).c_str(), s.args[i].pointer);
  }

  void checkStep(const MatmulStep &s) {
    dtype(s.dtype);
    positive("m", s.m);
    positive("n", s.n);
    positive("k", s.k);
    positive("batch", s.batch);
    if (!error_.empty())
      return;
    // Row-major storage: A is M x K (K x M when transposed), B is K x N
    // (N x K), D is M x N; a row stride is at least a row.
    atLeast("lda", s.lda, s.transA ? "m" : "k", s.transA ? s.m : s.k);
    atLeast("ldb", s.ldb, s.transB ? "k" : "n", s.transB ? s.k : s.n);
    atLeast("ldd", s.ldd, "n", s.n);
    nonNegative("strideA", s.strideA);
    nonNegative("strideB", s.strideB);
    nonNegative("strideD", s.strideD);
    if (s.batch > 1 && s.strideD == 0)
      fail("strideD is 0 with batch " + std::to_string(s.batch) +
           ": every batch would write the same output");
    if (s.f32Out && hasBias(s.epilogue))
      fail("f32 output with a bias epilogue (the bias has the input dtype)");
    if (!std::isfinite(s.alpha))
      fail("alpha is not finite");
    if (!std::isfinite(s.beta))
      fail("beta is not finite");
    pointer("a", s.a);
    pointer("b", s.b);
    pointer("d", s.d);
    if (hasBias(s.epilogue))
      pointer("bias", s.bias);
    if (s.beta != 0.0f)
      pointer("c", s.c);
  }

  void checkStep(const AttentionStep &s) {
    dtype(s.dtype);
    positive("batch", s.batch);
    positive("heads", s.heads);
    positive("kvHeads", s.kvHeads);
    positive("seqQ", s.seqQ);
    positive("seqK", s.seqK);
    positive("headDim", s.headDim);
    if (!error_.empty())
      return;
    if (s.heads % s.kvHeads != 0)
      fail("heads " + std::to_string(s.heads) + " is not a multiple of " +
           "kvHeads " + std::to_string(s.kvHeads));
    if (!std::isfinite(s.scale))
      fail("scale is not finite");
    const char *names[] = {"qStride", "kStride", "vStride", "oStride",
                           "maskStride"};
    const int64_t *strides[] = {s.qStride, s.kStride, s.vStride, s.oStride,
                                s.maskStride};
    for (int j = 0; j < 5; ++j)
      for (int i = 0; i < 3; ++i)
        nonNegative(names[j], strides[j][i]);
    pointer("q", s.q);
    pointer("k", s.k);
    pointer("v", s.v);
    pointer("o", s.o);
    if (s.hasMask)
      pointer("mask", s.mask);
  }

  void checkStep(const CopyStep &s) {
    pointer("src", s.src);
    pointer("dst", s.dst);
  }

  const Plan &plan_;
  std::string error_;
};

bool validArch(const std::string &arch) {
  // "sm_" digits, then an optional feature suffix ("sm_90a", "sm_100f").
  if (arch.size() < 4 || arch.compare(0, 3, "sm_") != 0)
    return false;
  size_t i = 3;
  while (i < arch.size() && arch[i] >= '0' && arch[i] <= '9')
    ++i;
  if (i == 3 || i - 3 > 4)
    return false;
  return i == arch.size() ||
         (i + 1 == arch.size() && arch[i] >= 'a' && arch[i] <= 'z');
}

Status dataLoss(const std::string &message) {
  return Status(StatusCode::DataLoss, "cuda-plan: " + message);
}

Step decodeLaunch(Reader &r) {
  LaunchStep s;
  s.module = r.u32("launch module");
  s.kernel = r.str("kernel name");
  for (uint32_t &v : s.grid)
    v = r.u32("grid");
  for (uint32_t &v : s.block)
    v = r.u32("block");
  s.sharedBytes = r.u32("shared bytes");
  uint32_t n = r.count("argument count", 5);
  s.args.reserve(n);
  for (uint32_t i = 0; i < n && !r.failed(); ++i) {
    KernelArg a;
    uint8_t kind = r.u8("argument kind");
    switch (kind) {
    case static_cast<uint8_t>(KernelArg::Kind::Pointer):
      a = KernelArg::ptr(r.ptr("pointer argument"));
      break;
    case static_cast<uint8_t>(KernelArg::Kind::I32):
      a = KernelArg::i32(r.i32("i32 argument"));
      break;
    case static_cast<uint8_t>(KernelArg::Kind::I64):
      a = KernelArg::i64(r.i64("i64 argument"));
      break;
    case static_cast<uint8_t>(KernelArg::Kind::F32):
      a = KernelArg::f32(r.f32("f32 argument"));
      break;
    default:
      r.fail("argument " + std::to_string(i) + " has unknown kind " +
             std::to_string(kind));
    }
    s.args.push_back(a);
  }
  return s;
}

Step decodeMatmul(Reader &r) {
  MatmulStep s;
  int32_t dtype = r.i32("matmul dtype");
  s.dtype = static_cast<rt::DType>(dtype);
  if (!r.failed() && !rt::isValidDType(dtype))
    r.fail("matmul dtype " + std::to_string(dtype) + " is not a dtype");
  s.f32Out = r.boolean("f32Out");
  s.m = r.i64("m");
  s.n = r.i64("n");
  s.k = r.i64("k");
  s.batch = r.i64("batch");
  s.transA = r.boolean("transA");
  s.transB = r.boolean("transB");
  s.lda = r.i64("lda");
  s.ldb = r.i64("ldb");
  s.ldd = r.i64("ldd");
  s.strideA = r.i64("strideA");
  s.strideB = r.i64("strideB");
  s.strideD = r.i64("strideD");
  s.alpha = r.f32("alpha");
  s.beta = r.f32("beta");
  uint8_t epilogue = r.u8("epilogue");
  if (!r.failed() && epilogue > static_cast<uint8_t>(Epilogue::BiasRelu))
    r.fail("unknown epilogue " + std::to_string(epilogue));
  s.epilogue = static_cast<Epilogue>(epilogue);
  s.a = r.ptr("a");
  s.b = r.ptr("b");
  s.d = r.ptr("d");
  s.bias = r.ptr("bias");
  s.c = r.ptr("c");
  return s;
}

Step decodeAttention(Reader &r) {
  AttentionStep s;
  int32_t dtype = r.i32("attention dtype");
  s.dtype = static_cast<rt::DType>(dtype);
  if (!r.failed() && !rt::isValidDType(dtype))
    r.fail("attention dtype " + std::to_string(dtype) + " is not a dtype");
  s.batch = r.i32("batch");
  s.heads = r.i32("heads");
  s.kvHeads = r.i32("kvHeads");
  s.seqQ = r.i32("seqQ");
  s.seqK = r.i32("seqK");
  s.headDim = r.i32("headDim");
  s.scale = r.f32("scale");
  s.causal = r.boolean("causal");
  s.hasMask = r.boolean("hasMask");
  s.q = r.ptr("q");
  s.k = r.ptr("k");
  s.v = r.ptr("v");
  s.o = r.ptr("o");
  s.mask = r.ptr("mask");
  for (int64_t *strides :
       {s.qStride, s.kStride, s.vStride, s.oStride, s.maskStride})
    for (int i = 0; i < 3; ++i)
      strides[i] = r.i64("stride");
  return s;
}

Step decodeCopy(Reader &r) {
  CopyStep s;
  s.src = r.ptr("src");
  s.dst = r.ptr("dst");
  s.bytes = r.u64("copy bytes");
  return s;
}

const char *epilogueName(Epilogue e) {
  switch (e) {
  case Epilogue::None:
    return "none";
  case Epilogue::Bias:
    return "bias";
  case Epilogue::Gelu:
    return "gelu";
  case Epilogue::BiasGelu:
    return "bias_gelu";
  case Epilogue::Relu:
    return "relu";
  case Epilogue::BiasRelu:
    return "bias_relu";
  }
  return "invalid";
}

std::string ptrText(const DevicePtr &p) {
  return "b" + std::to_string(p.binding) + "+" + std::to_string(p.offset);
}

} // namespace

std::vector<uint8_t> encodePlan(const Plan &plan) {
  Writer w;
  w.put<char>('G');
  w.put<char>('C');
  w.put<char>('U');
  w.put<char>('P');
  w.u32(kPlanVersion);
  w.str(plan.arch);
  w.u32(static_cast<uint32_t>(plan.modules.size()));
  for (const std::string &ptx : plan.modules)
    w.str(ptx);
  w.u32(plan.bindingCount);
  w.u32(static_cast<uint32_t>(plan.steps.size()));
  for (const Step &step : plan.steps)
    std::visit([&](const auto &s) { encodeStep(w, s); }, step);
  return w.take();
}

rt::Result<Plan> decodePlan(const uint8_t *data, uint64_t size) {
  if (!data && size)
    return Status(StatusCode::InvalidArgument, "cuda-plan: data is null");
  if (size < 8 || std::memcmp(data, "GCUP", 4) != 0)
    return dataLoss("not a cuda-plan executable (bad magic)");
  Reader r(data, size);
  r.u32("magic");
  uint32_t version = r.u32("version");
  if (version != kPlanVersion)
    return Status(StatusCode::FailedPrecondition,
                  "cuda-plan: unsupported version " + std::to_string(version) +
                      "; this runtime reads version " +
                      std::to_string(kPlanVersion));
  Plan plan;
  plan.arch = r.str("arch");
  if (!r.failed() && !validArch(plan.arch))
    return dataLoss("arch '" + plan.arch + "' is not sm_<number>");
  uint32_t nmodules = r.count("module count", 4);
  plan.modules.reserve(nmodules);
  for (uint32_t i = 0; i < nmodules && !r.failed(); ++i) {
    plan.modules.push_back(r.str("module"));
    if (!r.failed() && plan.modules.back().empty())
      r.fail("module " + std::to_string(i) + " is empty");
  }
  plan.bindingCount = r.u32("binding count");
  uint32_t nsteps = r.count("step count", 1);
  plan.steps.reserve(nsteps);
  StepChecker checker(plan);
  for (uint32_t i = 0; i < nsteps && !r.failed(); ++i) {
    uint64_t at = r.position();
    uint8_t kind = r.u8("step kind");
    if (r.failed())
      break;
    Step step;
    switch (kind) {
    case static_cast<uint8_t>(StepKind::Launch):
      step = decodeLaunch(r);
      break;
    case static_cast<uint8_t>(StepKind::Matmul):
      step = decodeMatmul(r);
      break;
    case static_cast<uint8_t>(StepKind::Attention):
      step = decodeAttention(r);
      break;
    case static_cast<uint8_t>(StepKind::Copy):
      step = decodeCopy(r);
      break;
    default:
      return dataLoss("step " + std::to_string(i) + " at offset " +
                      std::to_string(at) + " has unknown kind " +
                      std::to_string(kind));
    }
    if (r.failed())
      return dataLoss("step " + std::to_string(i) + ": " + r.error());
    std::string problem = checker.check(step);
    if (!problem.empty())
      return Status(StatusCode::InvalidArgument,
                    "cuda-plan: step " + std::to_string(i) + " (" +
                        describeStep(step) + "): " + problem);
    plan.steps.push_back(std::move(step));
  }
  if (r.failed())
    return dataLoss(r.error());
  if (r.left())
    return dataLoss(std::to_string(r.left()) + " trailing bytes after the " +
                    "last step");
  return plan;
}

std::string describeStep(const Step &step) {
  std::ostringstream os;
  if (const auto *s = std::get_if<LaunchStep>(&step)) {
    os << "launch " << s->kernel << " (module " << s->module << ") grid ["
       << s->grid[0] << "," << s->grid[1] << "," << s->grid[2] << "] block ["
       << s->block[0] << "," << s->block[1] << "," << s->block[2] << "]";
    if (s->sharedBytes)
      os << " smem " << s->sharedBytes;
    os << ", " << s->args.size() << " args";
  } else if (const auto *s = std::get_if<MatmulStep>(&step)) {
    os << "matmul " << rt::dtypeName(s->dtype) << " m=" << s->m << " n=" << s->n
       << " k=" << s->k;
    if (s->batch != 1)
      os << " batch=" << s->batch;
    if (s->transA)
      os << " transA";
    if (s->transB)
      os << " transB";
    if (s->f32Out)
      os << " out=f32";
    if (s->epilogue != Epilogue::None)
      os << " epilogue=" << epilogueName(s->epilogue);
    os << " a=" << ptrText(s->a) << " b=" << ptrText(s->b)
       << " d=" << ptrText(s->d);
    if (s->beta != 0.0f)
      os << " + " << s->beta << " * c=" << ptrText(s->c);
  } else if (const auto *s = std::get_if<AttentionStep>(&step)) {
    os << "attention " << rt::dtypeName(s->dtype) << " batch=" << s->batch
       << " heads=" << s->heads;
    if (s->kvHeads != s->heads)
      os << "/" << s->kvHeads;
    os << " seq=" << s->seqQ << "x" << s->seqK << " dim=" << s->headDim;
    if (s->causal)
      os << " causal";
    if (s->hasMask)
      os << " mask";
  } else if (const auto *s = std::get_if<CopyStep>(&step)) {
    os << "copy " << s->bytes << " bytes " << ptrText(s->src) << " -> "
       << ptrText(s->dst);
  }
  return os.str();
}

} // namespace gaon::cuda
