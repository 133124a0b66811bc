//===- PlanExecutable.cpp - Loading and running cuda-plan executables -----===//
//
// Loading does everything that can fail for a reason other than the data:
// the arch check, PTX JIT (with its error log), kernel lookup, cuBLASLt
// descriptors, the attention kernel's availability. Running issues the steps
// on the queue's stream, eagerly the first time an executable sees a set of
// binding addresses, and from the second time on through a CUDA graph
// captured from the same calls (unless the device option graphs=0).
//
// Row-major matmuls map onto cuBLASLt's column-major convention by
// transposition: D = op(A) op(B) (row-major, M x N) is, read column-major,
// D^T = op(B)^T op(A)^T (N x M). So cuBLASLt's "A" is our B, its "B" is our
// A, and its m, n are our n, m; leading dimensions and batch strides carry
// over unchanged, and a bias over our columns is cuBLASLt's bias over rows.
//
//===----------------------------------------------------------------------===//

#include "DriverImpl.h"

#ifdef GAON_CUDA_HAVE_KERNELS
#include "gaon/cuda_kernels/Attention.h"
#endif

#include <algorithm>
#include <cstring>
#include <deque>

namespace gaon::cuda::detail {
namespace {

using rt::Status;
using rt::StatusCode;

/// Saturating arithmetic for extents computed from untrusted plans.
uint64_t satAdd(uint64_t a, uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}
uint64_t satMul(uint64_t a, uint64_t b) {
  return a && b > UINT64_MAX / a ? UINT64_MAX : a * b;
}

/// Elements spanned by `count` rows of `cols` elements `ld` apart, repeated
/// `batch` times `stride` apart (all non-negative, checked by decodePlan).
uint64_t spanElements(int64_t batch, int64_t stride, int64_t rows, int64_t ld,
                      int64_t cols) {
  uint64_t last =
      satAdd(satMul(static_cast<uint64_t>(rows - 1), static_cast<uint64_t>(ld)),
             static_cast<uint64_t>(cols));
  return satAdd(
      satMul(static_cast<uint64_t>(batch - 1), static_cast<uint64_t>(stride)),
      last);
}

/// Elements spanned by a (b, h, s) strided tensor whose innermost dimension
/// of `inner` elements is contiguous.
uint64_t span3(const int64_t stride[3], int64_t b, int64_t h, int64_t s,
               int64_t inner) {
  uint64_t end = static_cast<uint64_t>(inner);
  const int64_t counts[3] = {b, h, s};
  for (int i = 0; i < 3; ++i)
    end = satAdd(end, satMul(static_cast<uint64_t>(counts[i] - 1),
                             static_cast<uint64_t>(stride[i])));
  return end;
}

bool hasBias(Epilogue e) {
  return e == Epilogue::Bias || e == Epilogue::BiasGelu ||
         e == Epilogue::BiasRelu;
}

cudaDataType_t cudaType(rt::DType t) {
  switch (t) {
  case rt::DType::F16:
    return CUDA_R_16F;
  case rt::DType::BF16:
    return CUDA_R_16BF;
  default:
    return CUDA_R_32F;
  }
}

cublasLtEpilogue_t ltEpilogue(Epilogue e) {
  switch (e) {
  case Epilogue::None:
    break;
  case Epilogue::Bias:
    return CUBLASLT_EPILOGUE_BIAS;
  case Epilogue::Gelu:
    return CUBLASLT_EPILOGUE_GELU;
  case Epilogue::BiasGelu:
    return CUBLASLT_EPILOGUE_GELU_BIAS;
  case Epilogue::Relu:
    return CUBLASLT_EPILOGUE_RELU;
  case Epilogue::BiasRelu:
    return CUBLASLT_EPILOGUE_RELU_BIAS;
  }
  return CUBLASLT_EPILOGUE_DEFAULT;
}

/// The largest power of two (at most 256) dividing `address`.
uint32_t alignmentOf(CUdeviceptr address) {
  if (address == 0)
    return 256;
  uint64_t low = address & (~address + 1);
  return static_cast<uint32_t>(std::min<uint64_t>(low, 256));
}

struct MatmulAlgo {
  uint64_t key = 0; ///< alignments of (our) A, B, D and the bias
  cublasLtMatmulAlgo_t algo;
  size_t workspaceBytes = 0;
  int gemmTile = -1; ///< >= 0: Gaon's GEMM kernel instead (MatmulAlgos.h)
  int gemmSplits = 1;
};

/// cuBLASLt objects of one Matmul step, made at load. Algorithms depend on
/// the operands' alignment, known only at run time: chosen on first use per
/// alignment combination.
struct MatmulState {
  const CublasLtApi *lt = nullptr;
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t layoutA = nullptr; ///< cuBLASLt's A: our B
  cublasLtMatrixLayout_t layoutB = nullptr; ///< cuBLASLt's B: our A
  cublasLtMatrixLayout_t layoutD = nullptr; ///< C and D
  std::vector<MatmulAlgo> algos;

  ~MatmulState() {
    if (layoutD)
      lt->cublasLtMatrixLayoutDestroy(layoutD);
    if (layoutB)
      lt->cublasLtMatrixLayoutDestroy(layoutB);
    if (layoutA)
      lt->cublasLtMatrixLayoutDestroy(layoutA);
    if (desc)
      lt->cublasLtMatmulDescDestroy(desc);
  }
};

/// One set of binding addresses this executable has run with: present
/// after the first (eager) run; `captured` with `exec` from the second on;
/// `failed` when capture did not work (eager from then on).
struct GraphEntry {
  std::vector<CUdeviceptr> key;
  bool captured = false, failed = false;
  CUgraphExec exec = nullptr;
};

/// At most this many address sets per executable keep a graph; the oldest
/// is dropped beyond (a module normally binds one arena and one weights
/// buffer, so one set).
constexpr size_t kMaxGraphs = 8;

} // namespace

struct CudaExecutable {
  CudaDevice *device = nullptr;
  Plan plan;
  std::vector<CUmodule> modules;
  std::vector<CUfunction> functions;                 ///< per step (Launch)
  std::vector<std::unique_ptr<MatmulState>> matmuls; ///< per step (Matmul)
  std::vector<uint64_t> requiredBytes; ///< per binding, what the steps touch
  std::vector<size_t> requiredBy;      ///< the step that needs the most
  bool usesWorkspace = false;

  std::mutex mutex; ///< one run at a time: caches, descriptors, graphs
  std::deque<GraphEntry> graphs;

  ~CudaExecutable() {
    const CudaDriverApi *cu = device->cu;
    (void)makeCurrent(*device);
    for (GraphEntry &entry : graphs)
      if (entry.exec)
        cu->cuGraphExecDestroy(entry.exec);
    matmuls.clear();
    for (CUmodule module : modules)
      if (module)
        cu->cuModuleUnload(module);
  }
};

namespace {

Status fail(StatusCode code, const std::string &message) {
  return Status(code, "cuda: " + message);
}

std::string stepName(const Plan &plan, size_t i) {
  return "step " + std::to_string(i) + " (" + describeStep(plan.steps[i]) + ")";
}

/// `arch` ("sm_90", "sm_90a", "sm_100f") against the device's compute
/// capability. PTX for an older arch JIT-compiles for a newer GPU; arch-
/// specific ("a") PTX only runs on exactly that arch, family ("f") PTX on
/// the same major version.
Status checkArch(const CudaDevice &device, const std::string &arch) {
  unsigned number = 0;
  size_t i = 3;
  for (; i < arch.size() && arch[i] >= '0' && arch[i] <= '9'; ++i)
    number = number * 10 + static_cast<unsigned>(arch[i] - '0');
  char suffix = i < arch.size() ? arch[i] : '\0';
  unsigned cc = static_cast<unsigned>(device.ccMajor * 10 + device.ccMinor);
  bool ok = number <= cc;
  if (suffix == 'a')
    ok = number == cc;
  else if (suffix == 'f')
    ok = number <= cc && number / 10 == cc / 10;
  if (ok)
    return Status::ok();
  std::string message = "the artifact was compiled for " + arch +
                        ", this device is " + device.smName() + " (" +
                        device.name + ")";
  if (suffix == 'a')
    message += "; arch-specific code runs only on " + arch.substr(0, i);
  message += "; recompile it with --target=cuda:" + device.smName();
  return fail(StatusCode::FailedPrecondition, message);
}

Status loadModules(CudaExecutable &exe) {
  const CudaDriverApi &cu = *exe.device->cu;
  for (size_t i = 0; i < exe.plan.modules.size(); ++i) {
    std::vector<char> log(16384, '\0');
    CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER,
                              CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *values[] = {log.data(), reinterpret_cast<void *>(log.size())};
    CUmodule module = nullptr;
    CUresult r = cu.cuModuleLoadDataEx(&module, exe.plan.modules[i].c_str(), 2,
                                       options, values);
    if (r != CUDA_SUCCESS) {
      log.back() = '\0';
      std::string message =
          "loading PTX module " + std::to_string(i) +
          " of the plan: " + cuFailure(*exe.device, "cuModuleLoadDataEx", r);
      if (log[0])
        message += "; JIT log:\n" + std::string(log.data());
      StatusCode code = StatusCode::Internal;
      if (r == CUDA_ERROR_INVALID_PTX || r == CUDA_ERROR_INVALID_IMAGE)
        code = StatusCode::InvalidArgument;
      else if (r == CUDA_ERROR_UNSUPPORTED_PTX_VERSION ||
               r == CUDA_ERROR_NO_BINARY_FOR_GPU)
        code = StatusCode::FailedPrecondition;
      else if (r == CUDA_ERROR_OUT_OF_MEMORY)
        code = StatusCode::OutOfMemory;
      return Status(code, "cuda: " + message);
    }
    exe.modules.push_back(module);
  }
  return Status::ok();
}

Status prepareLaunch(CudaExecutable &exe, size_t i, const LaunchStep &s) {
  CudaDevice &device = *exe.device;
  const CudaDriverApi &cu = *device.cu;
  CUfunction function = nullptr;
  CUresult r = cu.cuModuleGetFunction(&function, exe.modules[s.module],
                                      s.kernel.c_str());
  if (r != CUDA_SUCCESS)
    return fail(r == CUDA_ERROR_NOT_FOUND ? StatusCode::NotFound
                                          : StatusCode::Internal,
                stepName(exe.plan, i) + ": module " + std::to_string(s.module) +
                    " has no kernel '" + s.kernel + "' (" +
                    cuFailure(device, "cuModuleGetFunction", r) + ")");
  // Beyond 48 KiB, dynamic shared memory must be opted into per kernel.
  if (s.sharedBytes > 48 * 1024) {
    if (static_cast<int64_t>(s.sharedBytes) > device.maxSharedOptin)
      return fail(StatusCode::InvalidArgument,
                  stepName(exe.plan, i) + ": " + std::to_string(s.sharedBytes) +
                      " bytes of shared memory; " + device.describe() +
                      " allows " + std::to_string(device.maxSharedOptin));
    r = cu.cuFuncSetAttribute(function,
                              CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                              static_cast<int>(s.sharedBytes));
    if (r != CUDA_SUCCESS)
      return fail(StatusCode::Internal,
                  stepName(exe.plan, i) + ": " +
                      cuFailure(device, "cuFuncSetAttribute", r));
  }
  exe.functions[i] = function;
  return Status::ok();
}

Status prepareMatmul(CudaExecutable &exe, size_t i, const MatmulStep &s) {
  CudaDevice &device = *exe.device;
  if (Status st = ensureCublasLt(device); !st.isOk())
    return Status(st.code(),
                  st.message() + " (needed by " + stepName(exe.plan, i) + ")");
  const CublasLtApi &lt = *device.lt;
  auto state = std::make_unique<MatmulState>();
  state->lt = &lt;
  std::string where = stepName(exe.plan, i) + ": ";
  auto check = [&](cublasStatus_t status, const char *call) -> Status {
    if (status == CUBLAS_STATUS_SUCCESS)
      return Status::ok();
    return fail(StatusCode::Internal,
                where + call + " failed: " + cublasErrorText(lt, status));
  };
  if (s.batch > INT32_MAX)
    return fail(StatusCode::InvalidArgument,
                where + "batch exceeds cuBLASLt's int32 batch count");

  const cudaDataType_t type = cudaType(s.dtype);
  // fp32 stays fp32: CUBLAS_COMPUTE_32F never uses TF32 (that would be
  // CUBLAS_COMPUTE_32F_FAST_TF32) and matches the reference interpreter.
  GAON_RETURN_IF_ERROR(check(
      lt.cublasLtMatmulDescCreate(&state->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F),
      "cublasLtMatmulDescCreate"));
  cublasOperation_t opA = s.transB ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t opB = s.transA ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasLtEpilogue_t epilogue = ltEpilogue(s.epilogue);
  GAON_RETURN_IF_ERROR(
      check(lt.cublasLtMatmulDescSetAttribute(
                state->desc, CUBLASLT_MATMUL_DESC_TRANSA, &opA, sizeof(opA)),
            "cublasLtMatmulDescSetAttribute(TRANSA)"));
  GAON_RETURN_IF_ERROR(
      check(lt.cublasLtMatmulDescSetAttribute(
                state->desc, CUBLASLT_MATMUL_DESC_TRANSB, &opB, sizeof(opB)),
            "cublasLtMatmulDescSetAttribute(TRANSB)"));
  GAON_RETURN_IF_ERROR(check(lt.cublasLtMatmulDescSetAttribute(
                                 state->desc, CUBLASLT_MATMUL_DESC_EPILOGUE,
                                 &epilogue, sizeof(epilogue)),
                             "cublasLtMatmulDescSetAttribute(EPILOGUE)"));

  // Column-major shapes (see the file comment).
  auto layout = [&](cublasLtMatrixLayout_t *out, cudaDataType_t elementType,
                    int64_t rows, int64_t cols, int64_t ld,
                    int64_t stride) -> Status {
    GAON_RETURN_IF_ERROR(
        check(lt.cublasLtMatrixLayoutCreate(out, elementType,
                                            static_cast<uint64_t>(rows),
                                            static_cast<uint64_t>(cols), ld),
              "cublasLtMatrixLayoutCreate"));
    if (s.batch == 1)
      return Status::ok();
    int32_t count = static_cast<int32_t>(s.batch);
    GAON_RETURN_IF_ERROR(check(
        lt.cublasLtMatrixLayoutSetAttribute(
            *out, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)),
        "cublasLtMatrixLayoutSetAttribute(BATCH_COUNT)"));
    return check(lt.cublasLtMatrixLayoutSetAttribute(
                     *out, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
                     sizeof(stride)),
                 "cublasLtMatrixLayoutSetAttribute(STRIDED_BATCH_OFFSET)");
  };
  // cuBLASLt's A (N x K after op) is our B: stored K x N row-major = N x K
  // column-major, or transposed N x K row-major = K x N column-major.
  GAON_RETURN_IF_ERROR(layout(&state->layoutA, type, s.transB ? s.k : s.n,
                              s.transB ? s.n : s.k, s.ldb, s.strideB));
  // cuBLASLt's B (K x M after op) is our A.
  GAON_RETURN_IF_ERROR(layout(&state->layoutB, type, s.transA ? s.m : s.k,
                              s.transA ? s.k : s.m, s.lda, s.strideA));
  GAON_RETURN_IF_ERROR(layout(&state->layoutD, cudaType(s.outDtype()), s.n, s.m,
                              s.ldd, s.strideD));
  exe.matmuls[i] = std::move(state);
  exe.usesWorkspace = true;
  return Status::ok();
}

#ifdef GAON_CUDA_HAVE_KERNELS
using gaon::cuda_kernels::AttentionDType;
using gaon::cuda_kernels::AttentionLaunch;
using gaon::cuda_kernels::AttentionParams;

AttentionDType attentionType(rt::DType t) {
  switch (t) {
  case rt::DType::F16:
    return AttentionDType::F16;
  case rt::DType::BF16:
    return AttentionDType::BF16;
  default:
    return AttentionDType::F32;
  }
}

AttentionParams attentionParams(const AttentionStep &s,
                                const std::vector<CUdeviceptr> *bases) {
  AttentionParams p{};
  auto at = [&](const DevicePtr &ptr) -> uint64_t {
    // Without bases (the load-time check) a placeholder, aligned address:
    // that check is about the shape, not the pointers.
    return bases ? (*bases)[ptr.binding] + ptr.offset : uint64_t(1) << 30;
  };
  p.q = at(s.q);
  p.k = at(s.k);
  p.v = at(s.v);
  p.o = at(s.o);
  p.mask = s.hasMask ? at(s.mask) : 0;
  p.batch = s.batch;
  p.heads = s.heads;
  p.kvHeads = s.kvHeads;
  p.seqQ = s.seqQ;
  p.seqK = s.seqK;
  p.headDim = s.headDim;
  p.causal = s.causal ? 1 : 0;
  p.scale = s.scale;
  for (int i = 0; i < 3; ++i) {
    p.qStride[i] = s.qStride[i];
    p.kStride[i] = s.kStride[i];
    p.vStride[i] = s.vStride[i];
    p.oStride[i] = s.oStride[i];
    p.maskStride[i] = s.maskStride[i];
  }
  return p;
}

/// The fatbin is loaded once per device, on first use.
Status ensureAttentionModule(CudaDevice &device) {
  std::string error = ensureKernelModule(device, device.attentionKernels,
                                         gaon::cuda_kernels::attentionFatbin(),
                                         "the fused attention kernels");
  return error.empty() ? Status::ok()
                       : fail(StatusCode::FailedPrecondition, error);
}
#endif

Status prepareAttention(CudaExecutable &exe, size_t i, const AttentionStep &s) {
#ifdef GAON_CUDA_HAVE_KERNELS
  CudaDevice &device = *exe.device;
  GAON_RETURN_IF_ERROR(ensureAttentionModule(device));
  // The choice may depend on addresses (alignment); with none yet, this
  // only asks whether some variant handles the shape at all.
  AttentionParams params = attentionParams(s, nullptr);
  const char *whyNot = nullptr;
  AttentionLaunch launch = gaon::cuda_kernels::chooseAttentionLaunch(
      params, attentionType(s.dtype), device.ccMajor, device.ccMinor,
      device.multiprocessors, &whyNot);
  if (!launch.kernel)
    return fail(StatusCode::Unimplemented,
                stepName(exe.plan, i) +
                    ": no fused attention kernel for this "
                    "shape on " +
                    device.describe() + ": " +
                    (whyNot ? whyNot : "unsupported"));
  return Status::ok();
#else
  (void)s;
  return fail(StatusCode::Unimplemented,
              stepName(exe.plan, i) +
                  ": this build has no fused attention kernels "
                  "(backends/cuda/kernels was not built), so plans with "
                  "attention steps cannot run");
#endif
}

/// What each step touches, per binding, so that submit can refuse a
/// binding shorter than the plan needs (a kernel would fault instead).
void computeRequirements(CudaExecutable &exe) {
  const Plan &plan = exe.plan;
  exe.requiredBytes.assign(plan.bindingCount, 0);
  exe.requiredBy.assign(plan.bindingCount, 0);
  auto need = [&](size_t step, const DevicePtr &p, uint64_t bytes) {
    uint64_t end = satAdd(p.offset, bytes);
    if (end > exe.requiredBytes[p.binding]) {
      exe.requiredBytes[p.binding] = end;
      exe.requiredBy[p.binding] = step;
    }
  };
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const Step &step = plan.steps[i];
    if (const auto *s = std::get_if<LaunchStep>(&step)) {
      for (const KernelArg &a : s->args)
        if (a.kind == KernelArg::Kind::Pointer)
          need(i, a.pointer, 0); // extent unknown: at least the offset
    } else if (const auto *s = std::get_if<MatmulStep>(&step)) {
      uint64_t size = rt::dtypeSize(s->dtype);
      need(i, s->a,
           satMul(size,
                  spanElements(s->batch, s->strideA, s->transA ? s->k : s->m,
                               s->lda, s->transA ? s->m : s->k)));
      need(i, s->b,
           satMul(size,
                  spanElements(s->batch, s->strideB, s->transB ? s->n : s->k,
                               s->ldb, s->transB ? s->k : s->n)));
      uint64_t outSize = rt::dtypeSize(s->outDtype());
      uint64_t outElements =
          spanElements(s->batch, s->strideD, s->m, s->ldd, s->n);
      need(i, s->d, satMul(outSize, outElements));
      if (s->beta != 0.0f)
        need(i, s->c, satMul(outSize, outElements)); // C has D's layout
      if (hasBias(s->epilogue))
        need(i, s->bias, satMul(size, static_cast<uint64_t>(s->n)));
    } else if (const auto *s = std::get_if<AttentionStep>(&step)) {
      uint64_t size = rt::dtypeSize(s->dtype);
      need(i, s->q,
           satMul(size,
                  span3(s->qStride, s->batch, s->heads, s->seqQ, s->headDim)));
      need(i, s->o,
           satMul(size,
                  span3(s->oStride, s->batch, s->heads, s->seqQ, s->headDim)));
      need(i, s->k,
           satMul(size, span3(s->kStride, s->batch, s->kvHeads, s->seqK,
                              s->headDim)));
      need(i, s->v,
           satMul(size, span3(s->vStride, s->batch, s->kvHeads, s->seqK,
                              s->headDim)));
      if (s->hasMask)
        need(i, s->mask,
             satMul(size, span3(s->maskStride, s->batch, s->heads, s->seqQ,
                                s->seqK)));
    } else if (const auto *s = std::get_if<CopyStep>(&step)) {
      need(i, s->src, s->bytes);
      need(i, s->dst, s->bytes);
    }
  }
}

// ---------------------------------------------------------------------------
// Issuing steps

CUdeviceptr address(const std::vector<CUdeviceptr> &bases, const DevicePtr &p) {
  return bases[p.binding] + p.offset;
}

std::string issueLaunch(CudaExecutable &exe, size_t i, const LaunchStep &s,
                        const std::vector<CUdeviceptr> &bases,
                        CUstream stream) {
  // Every argument gets an 8-byte slot; the kernel reads its own size from
  // the start of it (little-endian).
  std::vector<uint64_t> slots(s.args.size(), 0);
  std::vector<void *> params(s.args.size());
  for (size_t j = 0; j < s.args.size(); ++j) {
    const KernelArg &a = s.args[j];
    switch (a.kind) {
    case KernelArg::Kind::Pointer:
      slots[j] = address(bases, a.pointer);
      break;
    case KernelArg::Kind::I32: {
      int32_t v = static_cast<int32_t>(a.integer);
      std::memcpy(&slots[j], &v, sizeof(v));
      break;
    }
    case KernelArg::Kind::I64:
      std::memcpy(&slots[j], &a.integer, sizeof(a.integer));
      break;
    case KernelArg::Kind::F32:
      std::memcpy(&slots[j], &a.real, sizeof(a.real));
      break;
    }
    params[j] = &slots[j];
  }
  CUresult r = exe.device->cu->cuLaunchKernel(
      exe.functions[i], s.grid[0], s.grid[1], s.grid[2], s.block[0], s.block[1],
      s.block[2], s.sharedBytes, stream,
      params.empty() ? nullptr : params.data(), nullptr);
  return r == CUDA_SUCCESS ? "" : cuFailure(*exe.device, "cuLaunchKernel", r);
}

#ifdef GAON_CUDA_HAVE_KERNELS
/// The step as Gaon's GEMM kernel sees it; false when the kernel does not
/// handle it (batched, A transposed, fp32 inputs, bias with f32 output).
bool gemmParamsOf(const MatmulStep &s, CUdeviceptr a, CUdeviceptr b,
                  CUdeviceptr c, CUdeviceptr d, CUdeviceptr bias,
                  gaon::cuda_kernels::GemmParams *params,
                  gaon::cuda_kernels::GemmShape *shape) {
  if (s.batch != 1 || s.transA ||
      (s.dtype != rt::DType::F16 && s.dtype != rt::DType::BF16) ||
      (s.f32Out && hasBias(s.epilogue)) || s.m > INT32_MAX || s.n > INT32_MAX ||
      s.k > INT32_MAX)
    return false;
  shape->dtype = s.dtype == rt::DType::BF16
                     ? gaon::cuda_kernels::GemmDType::BF16
                     : gaon::cuda_kernels::GemmDType::F16;
  shape->f32Out = s.f32Out;
  shape->bTransposed = s.transB;
  *params = {};
  params->a = a;
  params->b = b;
  params->bias = bias;
  params->c = s.beta != 0.0f ? c : 0;
  params->d = d;
  params->m = static_cast<int32_t>(s.m);
  params->n = static_cast<int32_t>(s.n);
  params->k = static_cast<int32_t>(s.k);
  params->lda = s.lda;
  params->ldb = s.ldb;
  params->ldc = s.ldd; // C has D's layout
  params->ldd = s.ldd;
  params->epilogue = static_cast<int32_t>(s.epilogue);
  params->alpha = s.alpha;
  params->beta = s.beta;
  return true;
}
#endif

/// The algorithm for the operands' alignments (our A, B, D, bias), from
/// chooseMatmulAlgo on first use. The heuristic reads the bias pointer from
/// the descriptor for its alignment, so it must be set before.
std::string matmulAlgo(CudaExecutable &exe, MatmulState &state,
                       const MatmulStep &s, CUdeviceptr a, CUdeviceptr b,
                       CUdeviceptr c, CUdeviceptr d, CUdeviceptr bias,
                       CUstream stream, const MatmulAlgo **out) {
  uint32_t alignA = alignmentOf(a), alignB = alignmentOf(b),
           alignC = alignmentOf(c), alignD = alignmentOf(d),
           alignBias = alignmentOf(bias);
  uint64_t key = alignA | alignB << 9 | alignD << 18 |
                 static_cast<uint64_t>(alignBias) << 27 |
                 static_cast<uint64_t>(alignC) << 36;
  for (const MatmulAlgo &algo : state.algos)
    if (algo.key == key) {
      *out = &algo;
      return "";
    }
  MatmulProblem problem;
  problem.desc = state.desc;
  problem.layoutA = state.layoutA;
  problem.layoutB = state.layoutB;
  problem.layoutD = state.layoutD;
  problem.a = b; // cuBLASLt's A is our B (see the file comment)
  problem.b = a;
  problem.c = c;
  problem.d = d;
  problem.alignA = alignB;
  problem.alignB = alignA;
  problem.alignC = alignC;
  problem.alignD = alignD;
  problem.alpha = s.alpha;
  problem.beta = s.beta;
  problem.k = s.k;
#ifdef GAON_CUDA_HAVE_KERNELS
  problem.gemmEligible =
      gemmParamsOf(s, a, b, c, d, bias, &problem.gemm, &problem.gemmShape);
#endif
  // Everything the descriptor and layouts were made from, and the
  // alignments the heuristic was told.
  std::string sig;
  for (int64_t v : {int64_t(s.dtype), int64_t(s.outDtype()), s.m, s.n, s.k,
                    s.batch, int64_t(s.transA), int64_t(s.transB), s.lda, s.ldb,
                    s.ldd, s.strideA, s.strideB, s.strideD, int64_t(s.epilogue),
                    int64_t(s.beta != 0.0f), int64_t(key)})
    sig += std::to_string(v) + ",";
  problem.signature = std::move(sig);
  problem.description =
      std::string(rt::dtypeName(s.dtype)) + " " + std::to_string(s.batch) +
      "x" + std::to_string(s.m) + "x" + std::to_string(s.n) + "x" +
      std::to_string(s.k) + ", operand alignments " + std::to_string(alignA) +
      "/" + std::to_string(alignB) + "/" + std::to_string(alignD) + " bytes";
  ChosenMatmulAlgo chosen;
  if (std::string error =
          chooseMatmulAlgo(*exe.device, problem, stream, &chosen);
      !error.empty())
    return error;
  state.algos.push_back({key, chosen.algo, chosen.workspaceBytes,
                         chosen.gemmTile, chosen.gemmSplits});
  *out = &state.algos.back();
  return "";
}

std::string issueMatmul(CudaExecutable &exe, size_t i, const MatmulStep &s,
                        const std::vector<CUdeviceptr> &bases,
                        CUstream stream) {
  CudaDevice &device = *exe.device;
  const CublasLtApi &lt = *device.lt;
  MatmulState &state = *exe.matmuls[i];
  CUdeviceptr a = address(bases, s.a), b = address(bases, s.b),
              d = address(bases, s.d);
  CUdeviceptr biasAddress = hasBias(s.epilogue) ? address(bases, s.bias) : 0;
  if (hasBias(s.epilogue)) {
    // The descriptor belongs to this executable, whose mutex we hold; the
    // value is read when the matmul is enqueued (or captured).
    void *bias = reinterpret_cast<void *>(biasAddress);
    cublasStatus_t st = lt.cublasLtMatmulDescSetAttribute(
        state.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias));
    if (st != CUBLAS_STATUS_SUCCESS)
      return "cublasLtMatmulDescSetAttribute(BIAS_POINTER) failed: " +
             cublasErrorText(lt, st);
  }
  const float alpha = s.alpha, beta = s.beta;
  // C is the residual when beta != 0, else D (cuBLASLt does not read it).
  CUdeviceptr c = beta != 0.0f ? address(bases, s.c) : d;
  const MatmulAlgo *algo = nullptr;
  if (std::string error =
          matmulAlgo(exe, state, s, a, b, c, d, biasAddress, stream, &algo);
      !error.empty())
    return error;
#ifdef GAON_CUDA_HAVE_KERNELS
  if (algo->gemmTile >= 0) {
    gaon::cuda_kernels::GemmParams params;
    gaon::cuda_kernels::GemmShape shape;
    const char *whyNot = "unsupported";
    gaon::cuda_kernels::GemmLaunch launch;
    if (gemmParamsOf(s, a, b, c, d, biasAddress, &params, &shape))
      launch = gaon::cuda_kernels::chooseGemmLaunch(
          params, shape, algo->gemmTile, algo->gemmSplits, &whyNot);
    if (!launch.kernel)
      return std::string("the GEMM kernel chosen for this matmul cannot run "
                         "it: ") +
             whyNot;
    return launchGemm(device, launch, params, stream);
  }
#endif
  cublasStatus_t st = lt.cublasLtMatmul(
      device.ltHandle, state.desc, &alpha, reinterpret_cast<const void *>(b),
      state.layoutA, reinterpret_cast<const void *>(a), state.layoutB, &beta,
      reinterpret_cast<const void *>(c), state.layoutD,
      reinterpret_cast<void *>(d), state.layoutD, &algo->algo,
      reinterpret_cast<void *>(device.workspace), algo->workspaceBytes, stream);
  return st == CUBLAS_STATUS_SUCCESS
             ? ""
             : "cublasLtMatmul failed: " + cublasErrorText(lt, st);
}

std::string issueAttention(CudaExecutable &exe, const AttentionStep &s,
                           const std::vector<CUdeviceptr> &bases,
                           CUstream stream) {
#ifdef GAON_CUDA_HAVE_KERNELS
  CudaDevice &device = *exe.device;
  AttentionParams params = attentionParams(s, &bases);
  const char *whyNot = nullptr;
  AttentionLaunch launch = gaon::cuda_kernels::chooseAttentionLaunch(
      params, attentionType(s.dtype), device.ccMajor, device.ccMinor,
      device.multiprocessors, &whyNot);
  if (!launch.kernel)
    return std::string("no fused attention kernel for these operands: ") +
           (whyNot ? whyNot : "unsupported");
  return launchKernel(device, device.attentionKernels, launch.kernel,
                      launch.grid, launch.block, launch.sharedBytes, &params,
                      stream);
#else
  (void)exe, (void)s, (void)bases, (void)stream;
  return "this build has no fused attention kernels";
#endif
}

std::string issueStep(CudaExecutable &exe, size_t i,
                      const std::vector<CUdeviceptr> &bases, CUstream stream) {
  const Step &step = exe.plan.steps[i];
  if (const auto *s = std::get_if<LaunchStep>(&step))
    return issueLaunch(exe, i, *s, bases, stream);
  if (const auto *s = std::get_if<MatmulStep>(&step))
    return issueMatmul(exe, i, *s, bases, stream);
  if (const auto *s = std::get_if<AttentionStep>(&step))
    return issueAttention(exe, *s, bases, stream);
  const auto &s = std::get<CopyStep>(step);
  if (s.bytes == 0)
    return "";
  CUresult r = exe.device->cu->cuMemcpyDtoDAsync_v2(
      address(bases, s.dst), address(bases, s.src), s.bytes, stream);
  return r == CUDA_SUCCESS ? ""
                           : cuFailure(*exe.device, "cuMemcpyDtoDAsync_v2", r);
}

/// Issues every step; with `syncEach`, also waits after each so that an
/// asynchronous fault is attributed to its step.
std::string issueAll(CudaExecutable &exe, const std::vector<CUdeviceptr> &bases,
                     CUstream stream, bool syncEach) {
  for (size_t i = 0; i < exe.plan.steps.size(); ++i) {
    std::string error = issueStep(exe, i, bases, stream);
    if (error.empty() && syncEach) {
      CUresult r = exe.device->cu->cuStreamSynchronize(stream);
      if (r != CUDA_SUCCESS)
        error = cuFailure(*exe.device, "cuStreamSynchronize", r);
    }
    if (!error.empty())
      return stepName(exe.plan, i) + ": " + error;
  }
  return "";
}

/// Captures the steps into a graph and instantiates it; "" or why not. The
/// stream is left out of capture mode whatever happens.
std::string capture(CudaExecutable &exe, const std::vector<CUdeviceptr> &bases,
                    CUstream stream, CUgraphExec *out) {
  const CudaDriverApi &cu = *exe.device->cu;
  // Thread-local mode: other threads (buffer allocations, other queues)
  // may keep making calls that are illegal during a global capture.
  CUresult r =
      cu.cuStreamBeginCapture_v2(stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
  if (r != CUDA_SUCCESS)
    return cuFailure(*exe.device, "cuStreamBeginCapture_v2", r);
  std::string error = issueAll(exe, bases, stream, /*syncEach=*/false);
  CUgraph graph = nullptr;
  r = cu.cuStreamEndCapture(stream, &graph);
  if (error.empty() && r != CUDA_SUCCESS)
    error = cuFailure(*exe.device, "cuStreamEndCapture", r);
  if (error.empty()) {
    r = cu.cuGraphInstantiateWithFlags(out, graph, 0);
    if (r != CUDA_SUCCESS)
      error = cuFailure(*exe.device, "cuGraphInstantiateWithFlags", r);
  }
  if (graph)
    cu.cuGraphDestroy(graph); // the instantiated graph keeps what it needs
  return error;
}

void count(CudaDevice &device, uint64_t CudaDeviceStats::*field) {
  std::lock_guard<std::mutex> lock(device.statsMutex);
  ++(device.stats.*field);
}

} // namespace

rt::Result<CudaExecutable *>
loadPlanExecutable(CudaDevice &device, const gaon_executable_params_t &params) {
  auto exe = std::make_unique<CudaExecutable>();
  exe->device = &device;
  auto plan = decodePlan(params.data, params.data_size);
  if (!plan.isOk())
    return plan.status();
  exe->plan = std::move(plan.value());
  GAON_RETURN_IF_ERROR(checkArch(device, exe->plan.arch));
  GAON_RETURN_IF_ERROR(makeCurrent(device));
  GAON_RETURN_IF_ERROR(loadModules(*exe));
  const size_t n = exe->plan.steps.size();
  exe->functions.assign(n, nullptr);
  exe->matmuls.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const Step &step = exe->plan.steps[i];
    if (const auto *s = std::get_if<LaunchStep>(&step))
      GAON_RETURN_IF_ERROR(prepareLaunch(*exe, i, *s));
    else if (const auto *s = std::get_if<MatmulStep>(&step))
      GAON_RETURN_IF_ERROR(prepareMatmul(*exe, i, *s));
    else if (const auto *s = std::get_if<AttentionStep>(&step))
      GAON_RETURN_IF_ERROR(prepareAttention(*exe, i, *s));
  }
  computeRequirements(*exe);
  return exe.release();
}

void destroyPlanExecutable(CudaExecutable *executable) { delete executable; }

CudaDevice &executableDevice(const CudaExecutable &executable) {
  return *executable.device;
}

std::string checkBindings(const CudaExecutable &exe,
                          const std::vector<uint64_t> &lengths) {
  if (lengths.size() != exe.plan.bindingCount)
    return "binds " + std::to_string(lengths.size()) +
           " buffers but the plan has " +
           std::to_string(exe.plan.bindingCount) + " bindings";
  for (size_t j = 0; j < lengths.size(); ++j)
    if (lengths[j] < exe.requiredBytes[j])
      return "binding " + std::to_string(j) + " is " +
             std::to_string(lengths[j]) + " bytes but " +
             stepName(exe.plan, exe.requiredBy[j]) + " reaches byte " +
             std::to_string(exe.requiredBytes[j]);
  return "";
}

std::string runPlan(CudaExecutable &exe, const std::vector<CUdeviceptr> &bases,
                    CUstream stream, RunTiming &timing) {
  CudaDevice &device = *exe.device;
  const CudaDriverApi &cu = *device.cu;
  std::lock_guard<std::mutex> lock(exe.mutex);
  std::unique_lock<std::mutex> workspaceLock(device.workspaceMutex,
                                             std::defer_lock);
  if (exe.usesWorkspace)
    workspaceLock.lock();

  const bool graphs = device.graphs && !device.syncSteps;
  GraphEntry *entry = nullptr;
  if (graphs) {
    for (GraphEntry &candidate : exe.graphs)
      if (candidate.key == bases)
        entry = &candidate;
    if (!entry) {
      if (exe.graphs.size() >= kMaxGraphs) {
        if (exe.graphs.front().exec)
          cu.cuGraphExecDestroy(exe.graphs.front().exec);
        exe.graphs.pop_front();
      }
      exe.graphs.push_back({bases, false, false, nullptr});
      entry = nullptr; // first sight of these addresses: run eagerly
    } else if (!entry->captured && !entry->failed) {
      CUgraphExec graph = nullptr;
      std::string why = capture(exe, bases, stream, &graph);
      if (why.empty()) {
        entry->exec = graph;
        entry->captured = true;
        count(device, &CudaDeviceStats::graphCaptures);
      } else {
        // Capture is an optimization: what ran eagerly keeps running
        // eagerly. A real fault shows up again in the eager run below.
        entry->failed = true;
        count(device, &CudaDeviceStats::graphFallbacks);
      }
    }
  }

  // Timed from here, after the locks: waiting for another executable is
  // not this one's busy time. Capture above issues no GPU work.
  bool timed = cu.cuEventRecord(timing.start, stream) == CUDA_SUCCESS;
  std::string error;
  if (entry && entry->captured) {
    CUresult r = CUDA_SUCCESS;
    for (uint32_t i = 0; i < device.replays && r == CUDA_SUCCESS; ++i)
      r = cu.cuGraphLaunch(entry->exec, stream);
    if (r != CUDA_SUCCESS)
      error = "replaying the CUDA graph of " +
              std::to_string(exe.plan.steps.size()) +
              " steps: " + cuFailure(device, "cuGraphLaunch", r);
    else
      count(device, &CudaDeviceStats::graphLaunches);
  } else {
    error = issueAll(exe, bases, stream, device.syncSteps);
    if (error.empty())
      count(device, &CudaDeviceStats::eagerRuns);
  }
  timed = timed && cu.cuEventRecord(timing.end, stream) == CUDA_SUCCESS;
  // Always drain the stream, also after an error, so that nothing of this
  // run is still in flight when the caller signals its fences.
  CUresult r = cu.cuStreamSynchronize(stream);
  float ms = 0;
  if (timed && r == CUDA_SUCCESS &&
      cu.cuEventElapsedTime(&ms, timing.start, timing.end) == CUDA_SUCCESS)
    timing.seconds += ms * 1e-3;
  if (error.empty() && r != CUDA_SUCCESS) {
    error = "executing " + std::to_string(exe.plan.steps.size()) +
            " steps: " + cuFailure(device, "cuStreamSynchronize", r);
    if (!device.syncSteps)
      error += "; kernels report faults asynchronously, so the step is not "
               "known: run with device option sync_steps=1 to name it";
  }
  if (!error.empty()) {
    count(device, &CudaDeviceStats::failedRuns);
    // A graph that failed is not replayed again.
    if (entry && entry->captured) {
      cu.cuGraphExecDestroy(entry->exec);
      entry->exec = nullptr;
      entry->captured = false;
      entry->failed = true;
    }
  }
  return error;
}

} // namespace gaon::cuda::detail
