//===- ConstantTensor.h - Host copies of constant tensors -------*- C++ -*-===//
//
// Folders and the ONNX importer evaluate ops on constant operands (shape
// arithmetic, weight transposes). ConstantTensor gives them one host copy of
// an ElementsAttr, dense or dense_resource, with typed element access.
//
//===----------------------------------------------------------------------===//

#ifndef GAON_DIALECT_GRAPH_CONSTANTTENSOR_H
#define GAON_DIALECT_GRAPH_CONSTANTTENSOR_H

#include "mlir/IR/BuiltinAttributeInterfaces.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>

namespace gaon::graph {

/// Folding stops above this many elements for arithmetic (data movement of
/// weights folds up to kMaxFoldDataElements).
constexpr int64_t kMaxFoldArithElements = int64_t(1) << 20;
constexpr int64_t kMaxFoldDataElements = int64_t(1) << 26;

/// Constants up to this many elements print inline as `dense<...>`; larger
/// ones are stored as `dense_resource` blobs.
constexpr int64_t kMaxInlineElements = 64;

class ConstantTensor {
public:
  /// Zero-filled tensor of `type`.
  explicit ConstantTensor(mlir::RankedTensorType type);

  /// Copies an ElementsAttr (dense or dense_resource); nullopt for other
  /// attributes or element types without a fixed bit width.
  static std::optional<ConstantTensor> fromAttr(mlir::Attribute attr);

  /// Wraps raw element bytes (i1 as one byte per element).
  static std::optional<ConstantTensor> fromBytes(mlir::RankedTensorType type,
                                                 llvm::ArrayRef<char> bytes);

  /// `parts` (one element type, the same element count before their last
  /// axis) joined along their last axis into a tensor of `type`: merged
  /// weights [K, sum N_i] or biases [sum N_i] of sibling matmuls.
  static ConstantTensor concatLastAxis(llvm::ArrayRef<ConstantTensor> parts,
                                       mlir::RankedTensorType type);

  /// Builds an attribute: inline `dense` when small, else `dense_resource`
  /// named after `blobName`.
  mlir::ElementsAttr toAttr(llvm::StringRef blobName = "folded") const &;
  /// The same, handing this tensor's storage to the blob instead of
  /// copying it (weights rewritten by a pass).
  mlir::ElementsAttr toAttr(llvm::StringRef blobName = "folded") &&;

  mlir::RankedTensorType getType() const { return type; }
  llvm::ArrayRef<int64_t> getShape() const { return type.getShape(); }
  int64_t getNumElements() const { return numElements; }
  /// Bytes per element in `bytes()` (1 for i1).
  int64_t getElementBytes() const { return elementBytes; }
  bool isFloat() const;
  bool isUnsigned() const;
  llvm::ArrayRef<char> bytes() const { return data; }
  llvm::MutableArrayRef<char> bytes() { return data; }

  double getDouble(int64_t index) const;
  int64_t getInt(int64_t index) const;
  /// Stores with the element type's rounding (round-to-nearest-even for
  /// floats, truncation toward zero for float->int).
  void setDouble(int64_t index, double value);
  void setInt(int64_t index, int64_t value);

  /// All elements as int64 (for shape operands).
  llvm::SmallVector<int64_t> getInts() const;

private:
  ConstantTensor() = default;
  /// Storage of `type` left uninitialized, for callers that fill all of it
  /// (zero-filling a copied weight first cost a page-faulting pass).
  struct Uninitialized {};
  ConstantTensor(mlir::RankedTensorType type, Uninitialized);
  /// The element type's encoding, decided once: getDouble and setDouble
  /// run per element over whole weights.
  enum class Encoding : uint8_t { F32, F64, BF16, F16, OtherFloat, Integer };
  static Encoding encodingOf(mlir::Type elementType);
  mlir::RankedTensorType type;
  int64_t numElements = 0;
  int64_t elementBytes = 0;
  Encoding encoding = Encoding::Integer;
  llvm::SmallVector<char, 0> data;
};

/// The element bytes of a dense or dense_resource attribute without copying
/// them, when they are stored as the ConstantTensor layout would hold them
/// (not for i1, which is bit-packed, or splats).
std::optional<llvm::ArrayRef<char>> viewElementBytes(mlir::Attribute attr);

/// The element bytes of a constant: a view when viewElementBytes can give
/// one, otherwise a copy made in `storage`. nullopt for unreadable data.
std::optional<llvm::ArrayRef<char>>
readElementBytes(mlir::Attribute attr, std::optional<ConstantTensor> &storage);

/// Row-major strides of `shape` in elements.
llvm::SmallVector<int64_t> computeStrides(llvm::ArrayRef<int64_t> shape);

} // namespace gaon::graph

#endif // GAON_DIALECT_GRAPH_CONSTANTTENSOR_H
