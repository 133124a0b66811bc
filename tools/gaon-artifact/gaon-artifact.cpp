//===- gaon-artifact.cpp - Inspect .gaon artifacts ------------------------===//
//
//   gaon-artifact list model.gaon [--no-verify-weights]
//
// Prints the artifact's layout as JSON: the weights section's place in the
// file and every tensor (kind, dtype, shape, bytes, weight or arena offset),
// so that scripts can find a weight's bytes without parsing the format.
// bench/cuda_models.py uses it to ship artifacts without their weights and
// restore them bit for bit on the GPU machine (the restored file must pass
// the reader's weights checksum again).
//
//===----------------------------------------------------------------------===//

#include "gaon/runtime/artifact.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>
#include <string>

using namespace gaon::rt;

int main(int argc, char **argv) {
  if (argc < 3 || std::strcmp(argv[1], "list") != 0) {
    std::fprintf(
        stderr, "usage: gaon-artifact list model.gaon [--no-verify-weights]\n");
    return 2;
  }
  ArtifactReadOptions options;
  for (int i = 3; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-verify-weights") == 0) {
      options.verifyWeightsChecksum = false;
    } else {
      std::fprintf(stderr, "gaon-artifact: error: unknown option '%s'\n",
                   argv[i]);
      return 2;
    }
  }
  auto artifact = ArtifactReader::readFile(argv[2], options);
  if (!artifact.isOk()) {
    std::fprintf(stderr, "gaon-artifact: error: %s\n",
                 artifact.status().message().c_str());
    return 1;
  }
  const ModelDesc &model = artifact.value()->model();
  nlohmann::json tensors = nlohmann::json::array();
  for (const TensorDesc &t : model.tensors) {
    nlohmann::json entry = {{"id", t.id},
                            {"name", t.name},
                            {"kind", tensorKindName(t.kind)},
                            {"dtype", dtypeName(t.dtype)},
                            {"shape", t.shape},
                            {"bytes", t.sizeBytes}};
    if (t.kind == TensorKind::Weight)
      entry["weight_offset"] = t.weightOffset;
    else
      entry["arena_offset"] = t.arenaOffset;
    tensors.push_back(entry);
  }
  uint64_t weightsSize = artifact.value()->weightsSize();
  nlohmann::json out = {
      {"model", model.name},
      {"target", model.target},
      {"file_size", artifact.value()->fileSize()},
      // The weights section ends the file (see docs/runtime.md).
      {"weights_file_offset", artifact.value()->fileSize() - weightsSize},
      {"weights_size", weightsSize},
      {"arena_size", model.memoryPlan.arenaSize},
      {"tensors", tensors}};
  std::printf("%s\n", out.dump(1).c_str());
  return 0;
}
