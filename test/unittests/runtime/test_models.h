// Small artifacts for the host-ref driver, built with ArtifactWriter.
#ifndef GAON_TEST_UNITTESTS_RUNTIME_TEST_MODELS_H
#define GAON_TEST_UNITTESTS_RUNTIME_TEST_MODELS_H

#include "gaon/runtime/artifact.h"

#include <string>
#include <vector>

namespace gaon::rt::testing {

struct DiamondOptions {
  int64_t elements = 1024;
  bool explicitDependencies = true; // false: rely on hazard tracking alone
  uint32_t sleepMicros = 0;         // a sleep on each branch
  float scale = 2.0f;
  std::string target = "host-ref";
  std::string name = "diamond";
};

// y = (x + w) * scale + (x + w) * -1 and z = (x + w) * scale, computed by
// add -> {scale, scale} -> {add, copy}: a diamond with two parallel branches.
// w[i] = 0.5 * i.
ArtifactWriter makeDiamond(const DiamondOptions &options = {});

// Expected outputs of makeDiamond for a given input.
std::vector<float> diamondY(const std::vector<float> &x, float scale);
std::vector<float> diamondZ(const std::vector<float> &x, float scale);

// A wide graph: `branches` independent chains of `depth` scale/add steps
// with random sleeps, joined at the end; output "out". Results are exact
// (powers of two) so runs can be compared bit for bit.
ArtifactWriter makeWide(uint32_t branches, uint32_t depth, uint64_t seed,
                        int64_t elements = 256,
                        const std::string &name = "wide");

std::vector<uint8_t> floatBytes(const std::vector<float> &values);
std::vector<float> bytesToFloats(const std::vector<uint8_t> &bytes);

} // namespace gaon::rt::testing

#endif
