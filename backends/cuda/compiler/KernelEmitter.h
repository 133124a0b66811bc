//===- KernelEmitter.h - gpu.func bodies for fusion regions -----*- C++ -*-===//
//
// Generates the body of one gpu.func from one gaon_cuda.fusion: every
// value of the fusion is computed per element from an index vector
// ("elemental" code generation, as XLA's loop fusion), so fused producers
// never touch memory. Roots choose the schedule (see Passes.td).
//
//===----------------------------------------------------------------------===//
#ifndef GAON_BACKENDS_CUDA_KERNELEMITTER_H
#define GAON_BACKENDS_CUDA_KERNELEMITTER_H

#include "gaon/Dialect/Cuda/CudaDialect.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Support/LLVM.h"

#include <array>
#include <optional>

namespace gaon::cuda {

struct LaunchShape {
  std::array<int32_t, 3> grid = {1, 1, 1};
  std::array<int32_t, 3> block = {1, 1, 1};
};

/// Creates `gpu.func @name` in `gpuModule` computing `fusion` and returns
/// its launch shape; emits an error on the op that has no GPU lowering.
mlir::FailureOr<LaunchShape> emitFusionKernel(FusionOp fusion,
                                              mlir::gpu::GPUModuleOp gpuModule,
                                              llvm::StringRef name,
                                              unsigned blockSize);

/// When `op` runs on the row schedule (softmax over the last axis, layer/RMS
/// norm, float reductions over trailing axes, with f32 compute): the first
/// of the trailing axes that form a row.
std::optional<int64_t> rowOpFirstAxis(mlir::Operation *op);

/// The element type a tensor has in device memory (booleans take a byte).
mlir::Type storageElementType(mlir::Type element);

} // namespace gaon::cuda

#endif // GAON_BACKENDS_CUDA_KERNELEMITTER_H
