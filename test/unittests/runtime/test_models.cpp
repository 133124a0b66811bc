// Test artifacts for the host-ref driver.
#include "test_models.h"

#include <cstring>
#include <random>

namespace gaon::rt::testing {

std::vector<uint8_t> floatBytes(const std::vector<float> &values) {
  std::vector<uint8_t> bytes(values.size() * 4);
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

std::vector<float> bytesToFloats(const std::vector<uint8_t> &bytes) {
  std::vector<float> values(bytes.size() / 4);
  std::memcpy(values.data(), bytes.data(), values.size() * 4);
  return values;
}

static std::vector<uint8_t> paramOf(float value) {
  std::vector<uint8_t> bytes(4);
  std::memcpy(bytes.data(), &value, 4);
  return bytes;
}

static std::vector<uint8_t> paramOf(uint32_t value) {
  std::vector<uint8_t> bytes(4);
  std::memcpy(bytes.data(), &value, 4);
  return bytes;
}

static const std::vector<std::string> kEntries = {"add_f32", "scale_f32",
                                                  "copy", "sleep_us"};
enum Entry : uint32_t { Add = 0, Scale = 1, Copy = 2, Sleep = 3 };

ArtifactWriter makeDiamond(const DiamondOptions &options) {
  ArtifactWriter writer(options.name, options.target);
  writer.addCompilerOption("test", "diamond");
  const int64_t n = options.elements;
  std::vector<float> weights(n);
  for (int64_t i = 0; i < n; ++i)
    weights[i] = 0.5f * i;
  uint32_t x = writer.addInput("x", DType::F32, {n});
  uint32_t w = writer.addWeight("w", DType::F32, {n}, weights.data(), n * 4);
  uint32_t sum = writer.addIntermediate("sum", DType::F32, {n});
  uint32_t scaled = writer.addIntermediate("scaled", DType::F32, {n});
  uint32_t negated = writer.addIntermediate("negated", DType::F32, {n});
  uint32_t y = writer.addOutput("y", DType::F32, {n});
  uint32_t z = writer.addOutput("z", DType::F32, {n});
  uint32_t p = writer.addProgram(options.target, "host-ref",
                                 {'h', 'o', 's', 't'}, kEntries);
  auto deps = [&](std::vector<uint32_t> d) {
    return options.explicitDependencies ? d : std::vector<uint32_t>{};
  };
  auto R = Access::Read;
  auto W = Access::Write;
  // 0: sum = x + w
  writer.addDispatch(p, {Add, {{x, R}, {w, R}, {sum, W}}, {}, {}, -1});
  // 1: scaled = sum * scale (branch A, with optional sleep first)
  writer.addDispatch(
      p,
      {Scale, {{sum, R}, {scaled, W}}, deps({0}), paramOf(options.scale), -1});
  // 2: sleep on branch B, then 3: negated = -sum
  writer.addDispatch(p,
                     {Sleep, {}, deps({0}), paramOf(options.sleepMicros), -1});
  writer.addDispatch(
      p, {Scale, {{sum, R}, {negated, W}}, deps({0, 2}), paramOf(-1.0f), -1});
  // 4: y = scaled + negated; 5: z = copy(scaled)
  writer.addDispatch(
      p, {Add, {{scaled, R}, {negated, R}, {y, W}}, deps({1, 3}), {}, -1});
  writer.addDispatch(p, {Copy, {{scaled, R}, {z, W}}, deps({1}), {}, -1});
  Status planned = writer.planMemory(p);
  (void)planned;
  return writer;
}

std::vector<float> diamondY(const std::vector<float> &x, float scale) {
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    float sum = x[i] + 0.5f * i;
    y[i] = sum * scale + sum * -1.0f;
  }
  return y;
}

std::vector<float> diamondZ(const std::vector<float> &x, float scale) {
  std::vector<float> z(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    z[i] = (x[i] + 0.5f * i) * scale;
  return z;
}

ArtifactWriter makeWide(uint32_t branches, uint32_t depth, uint64_t seed,
                        int64_t n, const std::string &name) {
  ArtifactWriter writer(name, "host-ref");
  std::mt19937_64 random(seed);
  uint32_t x = writer.addInput("x", DType::F32, {n});
  uint32_t out = writer.addOutput("out", DType::F32, {n});
  uint32_t p = writer.addProgram("host-ref", "host-ref", {}, kEntries);
  auto R = Access::Read;
  auto W = Access::Write;
  std::vector<uint32_t> tails;
  std::vector<uint32_t> tailDispatch;
  for (uint32_t b = 0; b < branches; ++b) {
    uint32_t previous = x;
    int64_t previousDispatch = -1;
    for (uint32_t d = 0; d < depth; ++d) {
      uint32_t sleep = static_cast<uint32_t>(random() % 200);
      std::vector<uint32_t> deps;
      if (previousDispatch >= 0)
        deps.push_back(static_cast<uint32_t>(previousDispatch));
      uint32_t s = writer.addDispatch(p, {Sleep, {}, deps, paramOf(sleep), -1});
      uint32_t t = writer.addIntermediate(
          "b" + std::to_string(b) + "_" + std::to_string(d), DType::F32, {n});
      float factor = (random() % 2) ? 2.0f : 0.5f;
      deps.push_back(s);
      previousDispatch = writer.addDispatch(
          p, {Scale, {{previous, R}, {t, W}}, deps, paramOf(factor), -1});
      previous = t;
    }
    tails.push_back(previous);
    tailDispatch.push_back(static_cast<uint32_t>(previousDispatch));
  }
  // Join: out = tail0 + tail1 + ... through an accumulator chain.
  uint32_t accumulator = tails[0];
  int64_t last = tailDispatch[0];
  for (uint32_t b = 1; b < branches; ++b) {
    uint32_t next = b + 1 == branches
                        ? out
                        : writer.addIntermediate("acc" + std::to_string(b),
                                                 DType::F32, {n});
    last =
        writer.addDispatch(p, {Add,
                               {{accumulator, R}, {tails[b], R}, {next, W}},
                               {static_cast<uint32_t>(last), tailDispatch[b]},
                               {},
                               -1});
    accumulator = next;
  }
  if (branches == 1)
    writer.addDispatch(p, {Copy,
                           {{accumulator, R}, {out, W}},
                           {static_cast<uint32_t>(last)},
                           {},
                           -1});
  Status planned = writer.planMemory(p);
  (void)planned;
  return writer;
}

} // namespace gaon::rt::testing
