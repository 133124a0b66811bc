// ArtifactReader: maps a .gaon file and checks it completely before use.
//
// Order of checks: size, magic, format version (so an old or new file says
// so instead of "corrupted"), header fields against the real file size,
// metadata checksum, the flatbuffers Verifier, then the semantic checks of
// validateModel (offsets, sizes, references) and the weights checksum.
#include "gaon/runtime/artifact.h"

#include "artifact_generated.h"
#include "file_header.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gaon::rt {

namespace fb = ::gaon::artifact::fb;

Artifact::~Artifact() {
  if (mapping_)
    munmap(mapping_, mappingSize_);
}

namespace {

Status corrupt(const std::string &message) {
  return errorStatus(StatusCode::DataLoss, "corrupted artifact: " + message);
}

std::string str(const flatbuffers::String *value) {
  return value ? value->str() : std::string();
}

template <typename T> std::vector<T> vec(const flatbuffers::Vector<T> *value) {
  return value ? std::vector<T>(value->begin(), value->end())
               : std::vector<T>();
}

Status checkHeader(const uint8_t *data, uint64_t size, bool verifyChecksum,
                   artifact::FileHeader *out) {
  if (size < artifact::kVersionOffset + 4)
    return corrupt("file is " + std::to_string(size) +
                   " bytes, too small for a .gaon header");
  if (std::memcmp(data, artifact::kMagic, sizeof(artifact::kMagic)) != 0)
    return corrupt("bad magic: this is not a .gaon file");
  uint32_t version = 0;
  for (int i = 0; i < 4; ++i)
    version |= uint32_t(data[artifact::kVersionOffset + i]) << (8 * i);
  if (version != kArtifactFormatVersion)
    return errorStatus(StatusCode::FailedPrecondition,
                       "unsupported .gaon format version " +
                           std::to_string(version) + "; this runtime reads " +
                           "version " + std::to_string(kArtifactFormatVersion) +
                           " (recompile the model with a matching compiler)");
  if (size < artifact::kHeaderSize)
    return corrupt("truncated header (" + std::to_string(size) + " bytes)");
  artifact::FileHeader header = artifact::decodeHeader(data);
  if (header.headerSize != artifact::kHeaderSize)
    return corrupt("header size " + std::to_string(header.headerSize) +
                   " is not " + std::to_string(artifact::kHeaderSize));
  if (header.fileSize != size)
    return corrupt(std::string(header.fileSize > size ? "truncated: " : "") +
                   "header says the file has " +
                   std::to_string(header.fileSize) + " bytes, it has " +
                   std::to_string(size));
  if (header.metadataOffset != artifact::kHeaderSize ||
      header.metadataSize > size - header.metadataOffset)
    return corrupt(
        "metadata section [" + std::to_string(header.metadataOffset) + ", +" +
        std::to_string(header.metadataSize) + ") is outside the file");
  uint64_t metadataEnd = header.metadataOffset + header.metadataSize;
  if (header.weightsOffset < metadataEnd || header.weightsOffset > size ||
      header.weightsSize > size - header.weightsOffset)
    return corrupt("weights section [" + std::to_string(header.weightsOffset) +
                   ", +" + std::to_string(header.weightsSize) +
                   ") is outside the file or overlaps the metadata");
  if (header.weightsSize && header.weightsOffset % kWeightsSectionAlignment)
    return corrupt("weights section is not " +
                   std::to_string(kWeightsSectionAlignment) + "-byte aligned");
  if (header.weightsOffset + header.weightsSize != size)
    return corrupt("unexpected bytes after the weights section");
  // Alignment padding is covered by no checksum: it must be zero.
  for (uint64_t at = metadataEnd; at < header.weightsOffset; ++at)
    if (data[at] != 0)
      return corrupt("non-zero padding before the weights section");
  uint8_t zeroed[artifact::kHeaderSize];
  std::memcpy(zeroed, data, artifact::kHeaderSize);
  std::memset(zeroed + artifact::kMetadataChecksumOffset, 0, 8);
  uint64_t sum = artifact::checksum64(zeroed, artifact::kHeaderSize);
  sum = artifact::checksum64(data + header.metadataOffset, header.metadataSize,
                             sum);
  if (verifyChecksum && sum != header.metadataChecksum)
    return corrupt("metadata checksum mismatch");
  *out = header;
  return Status::ok();
}

ProgramDesc decodeProgram(const fb::Program &program) {
  ProgramDesc desc;
  desc.target = str(program.target());
  desc.format = str(program.format());
  desc.executable = vec(program.executable());
  if (program.entries())
    for (const flatbuffers::String *entry : *program.entries())
      desc.entries.push_back(str(entry));
  if (program.dispatches()) {
    for (const fb::Dispatch *dispatch : *program.dispatches()) {
      DispatchDesc d;
      d.entryIndex = dispatch->entry_index();
      if (dispatch->bindings())
        for (const fb::Binding *binding : *dispatch->bindings())
          d.bindings.push_back(
              {binding->tensor_id(), static_cast<Access>(binding->access())});
      d.dependsOn = vec(dispatch->depends_on());
      d.params = vec(dispatch->params());
      d.partition = dispatch->partition();
      desc.dispatches.push_back(std::move(d));
    }
  }
  return desc;
}

Result<ModelDesc> decodeModel(const uint8_t *data, uint64_t size,
                              uint64_t weightsSize) {
  flatbuffers::Verifier::Options options;
  options.max_tables = 1u << 26;
  options.max_depth = 16;
  flatbuffers::Verifier verifier(data, size, options);
  if (!fb::ModelBufferHasIdentifier(data) || !fb::VerifyModelBuffer(verifier))
    return corrupt("metadata failed flatbuffer verification");
  const fb::Model *root = fb::GetModel(data);
  if (root->format_version() != kArtifactFormatVersion)
    return corrupt("metadata format version " +
                   std::to_string(root->format_version()) +
                   " disagrees with the header");
  if (root->weights_size() != weightsSize)
    return corrupt("metadata says the weights take " +
                   std::to_string(root->weights_size()) +
                   " bytes, the header says " + std::to_string(weightsSize));
  ModelDesc model;
  model.name = str(root->model_name());
  model.target = str(root->target());
  model.producer = str(root->producer());
  if (root->compiler_options())
    for (const fb::KeyValue *option : *root->compiler_options())
      model.compilerOptions.emplace_back(str(option->key()),
                                         str(option->value()));
  if (root->tensors()) {
    for (const fb::Tensor *tensor : *root->tensors()) {
      TensorDesc desc;
      desc.id = tensor->id();
      desc.name = str(tensor->name());
      desc.dtype = static_cast<DType>(tensor->dtype());
      desc.shape = vec(tensor->shape());
      desc.kind = static_cast<TensorKind>(tensor->kind());
      desc.sizeBytes = tensor->size_bytes();
      desc.weightOffset = tensor->weight_offset();
      desc.arenaOffset = tensor->arena_offset();
      model.tensors.push_back(std::move(desc));
    }
  }
  model.inputs = vec(root->inputs());
  model.outputs = vec(root->outputs());
  if (const fb::MemoryPlan *plan = root->memory_plan())
    model.memoryPlan = {plan->arena_size(), plan->lower_bound(),
                        plan->alignment()};
  else
    return corrupt("no memory plan");
  if (root->programs())
    for (const fb::Program *program : *root->programs())
      model.programs.push_back(decodeProgram(*program));
  return model;
}

Status finishArtifact(const uint8_t *data, uint64_t size,
                      const ArtifactReadOptions &options, ModelDesc *model,
                      const uint8_t **weights, uint64_t *weightsSize) {
  artifact::FileHeader header;
  GAON_RETURN_IF_ERROR(
      checkHeader(data, size, options.verifyMetadataChecksum, &header));
  GAON_ASSIGN_OR_RETURN(*model,
                        decodeModel(data + header.metadataOffset,
                                    header.metadataSize, header.weightsSize));
  GAON_RETURN_IF_ERROR(validateModel(*model, header.weightsSize));
  *weights = data + header.weightsOffset;
  *weightsSize = header.weightsSize;
  if (options.verifyWeightsChecksum &&
      artifact::checksum64(*weights, header.weightsSize) !=
          header.weightsChecksum)
    return corrupt("weights checksum mismatch");
  return Status::ok();
}

} // namespace

Result<std::shared_ptr<const Artifact>>
ArtifactReader::readBytes(std::vector<uint8_t> bytes,
                          const ArtifactReadOptions &options) {
  std::shared_ptr<Artifact> artifact(new Artifact);
  uint64_t size = bytes.size();
  // Copy to a page-aligned address so that weights are as aligned as they
  // are in a mapped file.
  artifact->ownedBytes_.resize(size + kWeightsSectionAlignment);
  uint8_t *base = artifact->ownedBytes_.data();
  uint8_t *data =
      base + (kWeightsSectionAlignment -
              reinterpret_cast<uintptr_t>(base) % kWeightsSectionAlignment) %
                 kWeightsSectionAlignment;
  if (size)
    std::memcpy(data, bytes.data(), size);
  bytes = {};
  GAON_RETURN_IF_ERROR(finishArtifact(data, size, options, &artifact->model_,
                                      &artifact->weights_,
                                      &artifact->weightsSize_));
  artifact->fileSize_ = size;
  return std::shared_ptr<const Artifact>(std::move(artifact));
}

Result<std::shared_ptr<const Artifact>>
ArtifactReader::readFile(const std::string &path,
                         const ArtifactReadOptions &options) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errorStatus(StatusCode::NotFound, "cannot open artifact '" + path +
                                                 "': " + std::strerror(errno));
  struct stat info;
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    close(fd);
    return errorStatus(StatusCode::InvalidArgument,
                       "'" + path + "' is not a regular file");
  }
  std::shared_ptr<Artifact> artifact(new Artifact);
  uint64_t size = static_cast<uint64_t>(info.st_size);
  if (size == 0) {
    close(fd);
    return corrupt("'" + path + "' is empty");
  }
  void *mapping = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (mapping == MAP_FAILED)
    return errorStatus(StatusCode::Unavailable,
                       "cannot map '" + path + "': " + std::strerror(errno));
  artifact->mapping_ = mapping;
  artifact->mappingSize_ = size;
  Status status = finishArtifact(static_cast<const uint8_t *>(mapping), size,
                                 options, &artifact->model_,
                                 &artifact->weights_, &artifact->weightsSize_);
  if (!status.isOk())
    return Status(status.code(), "'" + path + "': " + status.message());
  artifact->fileSize_ = size;
  return std::shared_ptr<const Artifact>(std::move(artifact));
}

} // namespace gaon::rt
