// The .gaon artifact: one versioned file holding metadata, weights, the
// memory plan and per-target programs. See docs/runtime.md for the layout.
//
// The compiler writes artifacts with ArtifactWriter; runtimes and tools read
// them with ArtifactReader, which checks every offset, size and reference
// before anything uses them, so a corrupted file is an error, never a crash.
#ifndef GAON_RUNTIME_ARTIFACT_H
#define GAON_RUNTIME_ARTIFACT_H

#include "gaon/runtime/dtype.h"
#include "gaon/runtime/status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace gaon::rt {

// Bumped on every incompatible change of the file layout or schema.
constexpr uint32_t kArtifactFormatVersion = 1;
// Each weight starts at a multiple of this inside the weights section.
constexpr uint64_t kWeightAlignment = 64;
// The weights section starts at a multiple of this in the file (a page), so
// it can be memory-mapped.
constexpr uint64_t kWeightsSectionAlignment = 4096;

enum class TensorKind : int8_t {
  Input = 0,
  Output = 1,
  Weight = 2,
  Intermediate = 3
};
enum class Access : int8_t { Read = 0, Write = 1, ReadWrite = 2 };

const char *tensorKindName(TensorKind kind);

struct TensorDesc {
  uint32_t id = 0;
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  TensorKind kind = TensorKind::Intermediate;
  uint64_t sizeBytes = 0;
  uint64_t weightOffset = 0; // Weight: inside the weights section
  uint64_t arenaOffset = 0;  // Input/Output/Intermediate: inside the arena
};

struct BindingDesc {
  uint32_t tensorId = 0;
  Access access = Access::Read;
};

struct DispatchDesc {
  uint32_t entryIndex = 0;
  std::vector<BindingDesc> bindings;
  std::vector<uint32_t> dependsOn; // indices of earlier dispatches
  std::vector<uint8_t> params;
  int32_t partition = -1;
};

struct ProgramDesc {
  std::string target;
  std::string format;
  std::vector<uint8_t> executable;
  std::vector<std::string> entries;
  std::vector<DispatchDesc> dispatches;
};

struct MemoryPlanDesc {
  uint64_t arenaSize = 0;
  uint64_t lowerBound = 0;
  uint32_t alignment = 64;
};

struct ModelDesc {
  std::string name;
  std::string target;
  std::string producer;
  std::vector<std::pair<std::string, std::string>> compilerOptions;
  std::vector<TensorDesc> tensors;
  std::vector<uint32_t> inputs;  // tensor ids
  std::vector<uint32_t> outputs; // tensor ids
  MemoryPlanDesc memoryPlan;
  std::vector<ProgramDesc> programs;

  const TensorDesc *findTensor(uint32_t id) const;
  const TensorDesc *findTensor(const std::string &name) const;
  const ProgramDesc *findProgram(const std::string &target) const;
};

// Checks a model's internal consistency: dtypes, shapes and sizes, unique
// tensor ids, input/output references, weights inside [0, weightsSize),
// arena tensors inside the arena, dispatch entries, bindings and
// dependencies (only on earlier dispatches). Used by both reader and writer.
Status validateModel(const ModelDesc &model, uint64_t weightsSize);

// Builds an artifact. Typical use by the compiler:
//
//   ArtifactWriter writer("gpt2", "npu-sim:rngd");
//   writer.addCompilerOption("opt-level", "3");
//   uint32_t x = writer.addInput("input_ids", DType::I64, {1, 128});
//   uint32_t w = writer.addWeight("wte", DType::F16, {50257, 768}, data, n);
//   uint32_t h = writer.addIntermediate("h0", DType::F16, {1, 128, 768});
//   uint32_t y = writer.addOutput("logits", DType::F16, {1, 128, 50257});
//   uint32_t p = writer.addProgram("npu-sim:rngd", "npu-cmd", bytes, {"k0"});
//   writer.addDispatch(p, {0, {{x, Access::Read}, {w, Access::Read},
//                              {h, Access::Write}}, {}, {}, -1});
//   ...
//   GAON_RETURN_IF_ERROR(writer.planMemory(p));  // or setArenaOffset +
//   setMemoryPlan GAON_RETURN_IF_ERROR(writer.writeFile("gpt2.gaon"));
class ArtifactWriter {
public:
  ArtifactWriter(std::string modelName, std::string target);

  void setProducer(std::string producer) {
    model_.producer = std::move(producer);
  }
  void addCompilerOption(std::string key, std::string value);

  // Tensors get consecutive ids starting at 0. Inputs and outputs are added
  // to the graph signature in call order.
  uint32_t addInput(std::string name, DType dtype, std::vector<int64_t> shape);
  uint32_t addOutput(std::string name, DType dtype, std::vector<int64_t> shape);
  uint32_t addIntermediate(std::string name, DType dtype,
                           std::vector<int64_t> shape);
  // Reserves room for `bytes` of weight data, so that adding large weights
  // copies each once instead of regrowing the section.
  void reserveWeights(uint64_t bytes) { weights_.reserve(bytes); }
  // Copies `size` bytes of weight data (checked against dtype x shape when
  // serializing).
  uint32_t addWeight(std::string name, DType dtype, std::vector<int64_t> shape,
                     const void *data, uint64_t size);

  // Explicit memory plan (as computed by the compiler's planning pass).
  void setArenaOffset(uint32_t tensorId, uint64_t offset);
  void setMemoryPlan(uint64_t arenaSize, uint64_t lowerBound,
                     uint32_t alignment = 64);
  // Or: derive live ranges from the dispatch order of `programIndex` (inputs
  // live from the start, outputs to the end) and run the memory planner.
  Status planMemory(uint32_t programIndex, uint32_t alignment = 64);

  uint32_t addProgram(std::string target, std::string format,
                      std::vector<uint8_t> executable,
                      std::vector<std::string> entries);
  // Returns the dispatch index inside the program.
  uint32_t addDispatch(uint32_t programIndex, DispatchDesc dispatch);

  const ModelDesc &model() const { return model_; }
  ModelDesc &mutableModel() { return model_; }

  // The complete file image. `validate` = false skips validateModel; only
  // tests use it, to produce artifacts a reader must reject.
  Result<std::vector<uint8_t>> serialize(bool validate = true) const;
  // Writes to `path`.tmp.<pid> and renames it over `path`, so a failure
  // never leaves a half-written file where an artifact was.
  Status writeFile(const std::string &path) const;

private:
  uint32_t addTensor(std::string name, DType dtype, std::vector<int64_t> shape,
                     TensorKind kind);
  Result<std::vector<uint8_t>> serializeHead(bool validate) const;

  ModelDesc model_;
  std::vector<uint8_t> weights_;
};

// A validated artifact. Weight bytes stay in the mapped file.
class Artifact {
public:
  ~Artifact();
  Artifact(const Artifact &) = delete;
  Artifact &operator=(const Artifact &) = delete;

  uint32_t formatVersion() const { return kArtifactFormatVersion; }
  const ModelDesc &model() const { return model_; }
  const uint8_t *weightsData() const { return weights_; }
  uint64_t weightsSize() const { return weightsSize_; }
  uint64_t fileSize() const { return fileSize_; }
  // Bytes of one weight tensor (validated to lie inside the section).
  const uint8_t *weightData(const TensorDesc &tensor) const {
    return weights_ + tensor.weightOffset;
  }

private:
  friend class ArtifactReader;
  Artifact() = default;

  ModelDesc model_;
  std::vector<uint8_t> ownedBytes_; // when read from memory
  void *mapping_ = nullptr;         // when memory-mapped
  uint64_t mappingSize_ = 0;
  const uint8_t *weights_ = nullptr;
  uint64_t weightsSize_ = 0;
  uint64_t fileSize_ = 0;
};

struct ArtifactReadOptions {
  // Hashing the weights reads every page of a mapped file; big models can
  // skip it (the metadata checksum is always checked).
  bool verifyWeightsChecksum = true;
  // Off only in tests that flip bytes to reach the structural checks
  // behind the checksum.
  bool verifyMetadataChecksum = true;
};

class ArtifactReader {
public:
  static Result<std::shared_ptr<const Artifact>>
  readFile(const std::string &path, const ArtifactReadOptions &options = {});
  static Result<std::shared_ptr<const Artifact>>
  readBytes(std::vector<uint8_t> bytes,
            const ArtifactReadOptions &options = {});
};

} // namespace gaon::rt

#endif // GAON_RUNTIME_ARTIFACT_H
