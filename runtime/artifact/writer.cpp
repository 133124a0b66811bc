// ArtifactWriter: builds the flatbuffer metadata, appends the weights and
// writes the file atomically (temp file + rename).
#include "gaon/runtime/artifact.h"
#include "gaon/runtime/planner.h"

#include "artifact_generated.h"
#include "file_header.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace gaon::rt {

namespace fb = ::gaon::artifact::fb;

namespace {
uint64_t alignUp(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}
} // namespace

ArtifactWriter::ArtifactWriter(std::string modelName, std::string target) {
  model_.name = std::move(modelName);
  model_.target = std::move(target);
  model_.producer = "gaon";
}

void ArtifactWriter::addCompilerOption(std::string key, std::string value) {
  model_.compilerOptions.emplace_back(std::move(key), std::move(value));
}

uint32_t ArtifactWriter::addTensor(std::string name, DType dtype,
                                   std::vector<int64_t> shape,
                                   TensorKind kind) {
  TensorDesc tensor;
  tensor.id = static_cast<uint32_t>(model_.tensors.size());
  tensor.name = std::move(name);
  tensor.dtype = dtype;
  tensor.shape = std::move(shape);
  tensor.kind = kind;
  // An invalid shape gets size 0 here and is reported by serialize().
  tensor.sizeBytes = tensorByteSize(dtype, tensor.shape).value_or(0);
  model_.tensors.push_back(std::move(tensor));
  return model_.tensors.back().id;
}

uint32_t ArtifactWriter::addInput(std::string name, DType dtype,
                                  std::vector<int64_t> shape) {
  uint32_t id =
      addTensor(std::move(name), dtype, std::move(shape), TensorKind::Input);
  model_.inputs.push_back(id);
  return id;
}

uint32_t ArtifactWriter::addOutput(std::string name, DType dtype,
                                   std::vector<int64_t> shape) {
  uint32_t id =
      addTensor(std::move(name), dtype, std::move(shape), TensorKind::Output);
  model_.outputs.push_back(id);
  return id;
}

uint32_t ArtifactWriter::addIntermediate(std::string name, DType dtype,
                                         std::vector<int64_t> shape) {
  return addTensor(std::move(name), dtype, std::move(shape),
                   TensorKind::Intermediate);
}

uint32_t ArtifactWriter::addWeight(std::string name, DType dtype,
                                   std::vector<int64_t> shape, const void *data,
                                   uint64_t size) {
  uint32_t id =
      addTensor(std::move(name), dtype, std::move(shape), TensorKind::Weight);
  TensorDesc &tensor = model_.tensors.back();
  uint64_t offset = alignUp(weights_.size(), kWeightAlignment);
  weights_.resize(offset);
  const auto *bytes = static_cast<const uint8_t *>(data);
  if (size)
    weights_.insert(weights_.end(), bytes, bytes + size);
  tensor.weightOffset = offset;
  // A data size that disagrees with dtype x shape fails validation.
  if (size != tensor.sizeBytes)
    tensor.sizeBytes = size;
  return id;
}

void ArtifactWriter::setArenaOffset(uint32_t tensorId, uint64_t offset) {
  if (tensorId < model_.tensors.size())
    model_.tensors[tensorId].arenaOffset = offset;
}

void ArtifactWriter::setMemoryPlan(uint64_t arenaSize, uint64_t lowerBound,
                                   uint32_t alignment) {
  model_.memoryPlan = {arenaSize, lowerBound, alignment};
}

Status ArtifactWriter::planMemory(uint32_t programIndex, uint32_t alignment) {
  if (programIndex >= model_.programs.size())
    return errorStatus(StatusCode::InvalidArgument, "no such program");
  const ProgramDesc &program = model_.programs[programIndex];
  // Op 0 writes the inputs, dispatch d is op d + 1, op N + 1 reads outputs.
  const uint32_t exitOp = static_cast<uint32_t>(program.dispatches.size()) + 1;
  std::vector<uint32_t> arenaTensors;
  std::vector<PlannerTensor> planned;
  std::vector<int64_t> slot(model_.tensors.size(), -1);
  for (const TensorDesc &tensor : model_.tensors) {
    if (tensor.kind == TensorKind::Weight)
      continue;
    slot[tensor.id] = static_cast<int64_t>(planned.size());
    arenaTensors.push_back(tensor.id);
    PlannerTensor entry;
    entry.size = tensor.sizeBytes;
    entry.firstOp = tensor.kind == TensorKind::Input ? 0 : exitOp;
    entry.lastOp = tensor.kind == TensorKind::Output ? exitOp : 0;
    planned.push_back(entry);
  }
  for (uint32_t d = 0; d < program.dispatches.size(); ++d) {
    for (const BindingDesc &binding : program.dispatches[d].bindings) {
      if (binding.tensorId >= slot.size() || slot[binding.tensorId] < 0)
        continue;
      PlannerTensor &entry = planned[slot[binding.tensorId]];
      entry.firstOp = std::min(entry.firstOp, d + 1);
      entry.lastOp = std::max(entry.lastOp, d + 1);
    }
  }
  for (PlannerTensor &entry : planned)
    if (entry.firstOp > entry.lastOp) // never used: give it one op
      entry.lastOp = entry.firstOp;
  PlannerOptions options;
  options.alignment = alignment;
  GAON_ASSIGN_OR_RETURN(MemoryPlan plan,
                        gaon::rt::planMemory(planned, options));
  for (size_t i = 0; i < arenaTensors.size(); ++i)
    model_.tensors[arenaTensors[i]].arenaOffset = plan.offsets[i];
  setMemoryPlan(plan.arenaSize, plan.lowerBound, alignment);
  return Status::ok();
}

uint32_t ArtifactWriter::addProgram(std::string target, std::string format,
                                    std::vector<uint8_t> executable,
                                    std::vector<std::string> entries) {
  ProgramDesc program;
  program.target = std::move(target);
  program.format = std::move(format);
  program.executable = std::move(executable);
  program.entries = std::move(entries);
  model_.programs.push_back(std::move(program));
  return static_cast<uint32_t>(model_.programs.size() - 1);
}

uint32_t ArtifactWriter::addDispatch(uint32_t programIndex,
                                     DispatchDesc dispatch) {
  auto &dispatches = model_.programs.at(programIndex).dispatches;
  dispatches.push_back(std::move(dispatch));
  return static_cast<uint32_t>(dispatches.size() - 1);
}

namespace {

flatbuffers::Offset<fb::Program>
buildProgram(flatbuffers::FlatBufferBuilder &builder,
             const ProgramDesc &program) {
  std::vector<flatbuffers::Offset<fb::Dispatch>> dispatches;
  for (const DispatchDesc &dispatch : program.dispatches) {
    std::vector<flatbuffers::Offset<fb::Binding>> bindings;
    for (const BindingDesc &binding : dispatch.bindings)
      bindings.push_back(fb::CreateBinding(
          builder, binding.tensorId, static_cast<fb::Access>(binding.access)));
    dispatches.push_back(fb::CreateDispatchDirect(
        builder, dispatch.entryIndex, &bindings, &dispatch.dependsOn,
        &dispatch.params, dispatch.partition));
  }
  std::vector<flatbuffers::Offset<flatbuffers::String>> entries;
  for (const std::string &entry : program.entries)
    entries.push_back(builder.CreateString(entry));
  // Executables such as PTX or command streams may be read in place with
  // wide loads: align them to 16 bytes.
  builder.ForceVectorAlignment(program.executable.size(), 1, 16);
  auto executable = builder.CreateVector(program.executable);
  return fb::CreateProgram(builder, builder.CreateString(program.target),
                           builder.CreateString(program.format), executable,
                           builder.CreateVector(entries),
                           builder.CreateVector(dispatches));
}

std::vector<uint8_t> buildMetadata(const ModelDesc &model,
                                   uint64_t weightsSize) {
  flatbuffers::FlatBufferBuilder builder(4096);
  std::vector<flatbuffers::Offset<fb::KeyValue>> options;
  for (const auto &option : model.compilerOptions)
    options.push_back(fb::CreateKeyValueDirect(builder, option.first.c_str(),
                                               option.second.c_str()));
  std::vector<flatbuffers::Offset<fb::Tensor>> tensors;
  for (const TensorDesc &tensor : model.tensors)
    tensors.push_back(fb::CreateTensorDirect(
        builder, tensor.id, tensor.name.c_str(),
        static_cast<int32_t>(tensor.dtype), &tensor.shape,
        static_cast<fb::TensorKind>(tensor.kind), tensor.sizeBytes,
        tensor.weightOffset, tensor.arenaOffset));
  std::vector<flatbuffers::Offset<fb::Program>> programs;
  for (const ProgramDesc &program : model.programs)
    programs.push_back(buildProgram(builder, program));
  auto plan = fb::CreateMemoryPlan(builder, model.memoryPlan.arenaSize,
                                   model.memoryPlan.lowerBound,
                                   model.memoryPlan.alignment);
  auto root = fb::CreateModelDirect(
      builder, kArtifactFormatVersion, model.name.c_str(), model.target.c_str(),
      model.producer.c_str(), &options, &tensors, &model.inputs, &model.outputs,
      plan, weightsSize, &programs);
  fb::FinishModelBuffer(builder, root);
  return std::vector<uint8_t>(builder.GetBufferPointer(),
                              builder.GetBufferPointer() + builder.GetSize());
}

} // namespace

Result<std::vector<uint8_t>> ArtifactWriter::serialize(bool validate) const {
  GAON_ASSIGN_OR_RETURN(std::vector<uint8_t> file, serializeHead(validate));
  file.insert(file.end(), weights_.begin(), weights_.end());
  return file;
}

// Everything before the weights section: header, metadata, padding. Weights
// are large; writeFile streams them from weights_ instead of copying them
// into one file image.
Result<std::vector<uint8_t>>
ArtifactWriter::serializeHead(bool validate) const {
  for (const TensorDesc &tensor : model_.tensors) {
    auto expected = tensorByteSize(tensor.dtype, tensor.shape);
    if (validate && tensor.kind == TensorKind::Weight && expected &&
        *expected != tensor.sizeBytes)
      return errorStatus(StatusCode::InvalidArgument,
                         "weight '" + tensor.name + "' has " +
                             std::to_string(tensor.sizeBytes) +
                             " bytes of data but " + dtypeName(tensor.dtype) +
                             " x " + shapeToString(tensor.shape) + " needs " +
                             std::to_string(*expected));
  }
  Status valid =
      validate ? validateModel(model_, weights_.size()) : Status::ok();
  if (!valid.isOk())
    return errorStatus(StatusCode::InvalidArgument,
                       "cannot write artifact: " + valid.message());

  std::vector<uint8_t> metadata = buildMetadata(model_, weights_.size());
  artifact::FileHeader header;
  header.formatVersion = kArtifactFormatVersion;
  header.metadataOffset = artifact::kHeaderSize;
  header.metadataSize = metadata.size();
  uint64_t metadataEnd = header.metadataOffset + header.metadataSize;
  header.weightsOffset = weights_.empty()
                             ? metadataEnd
                             : alignUp(metadataEnd, kWeightsSectionAlignment);
  header.weightsSize = weights_.size();
  header.fileSize = header.weightsOffset + header.weightsSize;
  header.weightsChecksum =
      artifact::checksum64(weights_.data(), weights_.size());

  std::vector<uint8_t> file(header.weightsOffset, 0);
  artifact::encodeHeader(header, file.data());
  std::memcpy(file.data() + header.metadataOffset, metadata.data(),
              metadata.size());
  // The checksum covers the header (with its own field still zero) and the
  // metadata, so a flipped header byte is caught too.
  uint64_t sum = artifact::checksum64(file.data(), artifact::kHeaderSize);
  sum = artifact::checksum64(metadata.data(), metadata.size(), sum);
  header.metadataChecksum = sum;
  artifact::encodeHeader(header, file.data());
  return file;
}

Status ArtifactWriter::writeFile(const std::string &path) const {
  GAON_ASSIGN_OR_RETURN(std::vector<uint8_t> head, serializeHead(true));
  static std::atomic<uint64_t> counter{0};
  std::string temp = path + ".tmp." + std::to_string(getpid()) + "." +
                     std::to_string(counter++);
  auto failure = [&](const std::string &what) {
    std::string message = what + " '" + temp + "': " + std::strerror(errno);
    unlink(temp.c_str());
    return errorStatus(StatusCode::Unavailable, message);
  };
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return errorStatus(StatusCode::Unavailable,
                       "cannot create '" + temp + "': " + std::strerror(errno));
  auto writeAll = [&](const uint8_t *data, size_t size) {
    size_t written = 0;
    while (written < size) {
      ssize_t n = ::write(fd, data + written, size - written);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return false;
      written += static_cast<size_t>(n);
    }
    return true;
  };
  if (!writeAll(head.data(), head.size()) ||
      !writeAll(weights_.data(), weights_.size())) {
    close(fd);
    return failure("cannot write");
  }
  if (fsync(fd) != 0) {
    close(fd);
    return failure("cannot sync");
  }
  if (close(fd) != 0)
    return failure("cannot close");
  if (rename(temp.c_str(), path.c_str()) != 0)
    return failure("cannot rename to '" + path + "' from");
  return Status::ok();
}

} // namespace gaon::rt
