// Memory planner: no overlap between tensors live at the same time, the
// lower bound, in-place reuse, and the 1.05 x bound goal on transformer-like
// graphs.
#include "gaon/runtime/planner.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>

namespace gaon::rt {
namespace {

TEST(PlannerTest, EmptyGraph) {
  auto plan = planMemory({});
  ASSERT_TRUE(plan.isOk());
  EXPECT_EQ(plan->arenaSize, 0u);
  EXPECT_EQ(plan->lowerBound, 0u);
}

TEST(PlannerTest, DisjointLifetimesShareMemory) {
  std::vector<PlannerTensor> tensors = {
      {1024, 0, 1, -1}, {1024, 2, 3, -1}, {1024, 4, 5, -1}};
  auto plan = planMemory(tensors);
  ASSERT_TRUE(plan.isOk());
  EXPECT_EQ(plan->arenaSize, 1024u);
  EXPECT_EQ(plan->lowerBound, 1024u);
  EXPECT_TRUE(verifyMemoryPlan(tensors, *plan).isOk());
}

TEST(PlannerTest, OverlappingLifetimesDoNotShare) {
  std::vector<PlannerTensor> tensors = {{100, 0, 2, -1}, {200, 1, 3, -1}};
  auto plan = planMemory(tensors);
  ASSERT_TRUE(plan.isOk());
  EXPECT_EQ(plan->lowerBound, 128u + 256u); // sizes aligned to 64
  EXPECT_EQ(plan->arenaSize, plan->lowerBound);
  EXPECT_TRUE(verifyMemoryPlan(tensors, *plan).isOk());
}

TEST(PlannerTest, InPlaceHintReusesStorageWhenLegal) {
  // t1 = reshape(t0) at op 1, where t0 dies: legal.
  std::vector<PlannerTensor> tensors = {{4096, 0, 1, -1}, {4096, 1, 2, 0}};
  auto plan = planMemory(tensors);
  ASSERT_TRUE(plan.isOk());
  EXPECT_EQ(plan->inPlaceReuses, 1u);
  EXPECT_EQ(plan->offsets[0], plan->offsets[1]);
  EXPECT_EQ(plan->arenaSize, 4096u);
  EXPECT_TRUE(verifyMemoryPlan(tensors, *plan).isOk());
}

TEST(PlannerTest, InPlaceHintIgnoredWhenSourceLivesOn) {
  // t0 is still read at op 3, after t1 is defined at op 1: not legal.
  std::vector<PlannerTensor> tensors = {{4096, 0, 3, -1}, {4096, 1, 2, 0}};
  auto plan = planMemory(tensors);
  ASSERT_TRUE(plan.isOk());
  EXPECT_EQ(plan->inPlaceReuses, 0u);
  EXPECT_NE(plan->offsets[0], plan->offsets[1]);
  EXPECT_TRUE(verifyMemoryPlan(tensors, *plan).isOk());
}

TEST(PlannerTest, InvalidInputsAreErrors) {
  EXPECT_FALSE(planMemory({{64, 3, 1, -1}}).isOk());
  EXPECT_FALSE(planMemory({{64, 0, 1, 5}}).isOk());
  EXPECT_FALSE(planMemory({{64, 0, 1, 0}}).isOk());
  PlannerOptions options;
  options.alignment = 48;
  EXPECT_FALSE(planMemory({{64, 0, 1, -1}}, options).isOk());
}

// Random graphs: sizes from 1 B to 1 MiB, random lifetimes, some hints.
TEST(PlannerTest, RandomGraphsNeverOverlap) {
  std::mt19937_64 random(1234);
  double worst = 0, total = 0;
  const int graphs = 200;
  for (int g = 0; g < graphs; ++g) {
    const uint32_t ops = 5 + random() % 100;
    const uint32_t count = 1 + random() % 150;
    std::vector<PlannerTensor> tensors(count);
    for (uint32_t i = 0; i < count; ++i) {
      PlannerTensor &t = tensors[i];
      t.size = uint64_t(1) << (random() % 21);
      t.size += random() % t.size;
      t.firstOp = random() % ops;
      t.lastOp = t.firstOp + random() % (ops - t.firstOp);
      if (i > 0 && random() % 4 == 0)
        t.mayAliasInput = static_cast<int32_t>(random() % i);
    }
    auto plan = planMemory(tensors);
    ASSERT_TRUE(plan.isOk()) << plan.status().toString();
    Status verified = verifyMemoryPlan(tensors, *plan);
    ASSERT_TRUE(verified.isOk()) << "graph " << g << ": " << verified.message();
    EXPECT_GE(plan->arenaSize, plan->lowerBound);
    worst = std::max(worst, plan->ratio());
    total += plan->ratio();
  }
  std::printf("[planner] random graphs: mean arena/bound %.4f, worst %.4f\n",
              total / graphs, worst);
}

// A decoder-style transformer as a list of ops producing tensors, with
// in-place hints for reshapes, softmax, GELU and residual adds.
struct GraphBuilder {
  std::vector<PlannerTensor> tensors;
  uint32_t op = 0;

  uint32_t define(uint64_t bytes, int32_t inPlaceOf = -1) {
    tensors.push_back({bytes, op, op, inPlaceOf});
    return static_cast<uint32_t>(tensors.size() - 1);
  }
  void use(uint32_t tensor) {
    tensors[tensor].lastOp = std::max(tensors[tensor].lastOp, op);
  }
  // One op reading `inputs` and defining a tensor of `bytes`.
  uint32_t apply(std::vector<uint32_t> inputs, uint64_t bytes,
                 int32_t inPlaceOf = -1) {
    ++op;
    for (uint32_t input : inputs)
      use(input);
    return define(bytes, inPlaceOf);
  }
};

std::vector<PlannerTensor> transformer(uint32_t layers, uint64_t batch,
                                       uint64_t seq, uint64_t hidden,
                                       uint64_t heads, uint64_t elementSize) {
  GraphBuilder g;
  const uint64_t act = batch * seq * hidden * elementSize;
  const uint64_t scores = batch * heads * seq * seq * elementSize;
  uint32_t x = g.define(act); // embeddings
  for (uint32_t l = 0; l < layers; ++l) {
    uint32_t ln1 = g.apply({x}, act);
    uint32_t qkv = g.apply({ln1}, 3 * act);
    uint32_t qkvHeads = g.apply({qkv}, 3 * act, qkv); // reshape
    uint32_t s = g.apply({qkvHeads}, scores);         // q k^T
    uint32_t p = g.apply({s}, scores, s);             // softmax in place
    uint32_t o = g.apply({p, qkvHeads}, act);         // p v
    uint32_t oMerged = g.apply({o}, act, o);          // reshape back
    uint32_t proj = g.apply({oMerged}, act);
    uint32_t x1 = g.apply({x, proj}, act, proj); // residual add
    uint32_t ln2 = g.apply({x1}, act);
    uint32_t h = g.apply({ln2}, 4 * act);
    uint32_t gelu = g.apply({h}, 4 * act, h);
    uint32_t down = g.apply({gelu}, act);
    x = g.apply({x1, down}, act, down);
  }
  uint32_t final = g.apply({x}, act);
  g.apply({final}, batch * seq * 50257 / 16 * elementSize); // logits slice
  return g.tensors;
}

TEST(PlannerTest, TransformerChainsMeetTheGoal) {
  struct Case {
    const char *name;
    uint32_t layers;
    uint64_t batch, seq, hidden, heads, elementSize;
  };
  const Case cases[] = {
      {"gpt2-small 1x128 fp16", 12, 1, 128, 768, 12, 2},
      {"gpt2-small 1x1024 fp16", 12, 1, 1024, 768, 12, 2},
      {"bert-base 32x128 fp32", 12, 32, 128, 768, 12, 4},
      {"bert-base 8x512 fp16", 12, 8, 512, 768, 12, 2},
      {"llama-ish 1x2048 bf16", 32, 1, 2048, 4096, 32, 2},
  };
  for (const Case &c : cases) {
    auto tensors =
        transformer(c.layers, c.batch, c.seq, c.hidden, c.heads, c.elementSize);
    auto plan = planMemory(tensors);
    ASSERT_TRUE(plan.isOk());
    ASSERT_TRUE(verifyMemoryPlan(tensors, *plan).isOk());
    PlannerOptions noInPlace;
    noInPlace.allowInPlace = false;
    auto plain = planMemory(tensors, noInPlace);
    ASSERT_TRUE(plain.isOk());
    std::printf("[planner] %-24s tensors %4zu arena %10llu bound %10llu "
                "ratio %.4f (%s, %u in-place); without in-place arena "
                "%10llu ratio %.4f\n",
                c.name, tensors.size(), (unsigned long long)plan->arenaSize,
                (unsigned long long)plan->lowerBound, plan->ratio(),
                plan->strategy.c_str(), plan->inPlaceReuses,
                (unsigned long long)plain->arenaSize, plain->ratio());
    EXPECT_LE(plan->ratio(), 1.05) << c.name;
    EXPECT_LE(plan->arenaSize, plain->arenaSize) << c.name;
  }
}

TEST(PlannerTest, RandomChainsWithSkipsStayValid) {
  // Random widths per op on a chain with skip connections: harder than real
  // transformers (widths change at every op), so the ratio is only reported
  // and loosely bounded; the 1.05 goal is checked above.
  std::mt19937_64 random(99);
  double worst = 0;
  for (int trial = 0; trial < 50; ++trial) {
    GraphBuilder g;
    uint32_t x = g.define(4096 * (1 + random() % 8));
    uint32_t skip = x;
    for (int i = 0; i < 60; ++i) {
      uint64_t bytes = 4096 * (1 + random() % 16);
      bool inPlace = random() % 3 == 0;
      uint32_t y = g.apply({x}, inPlace ? g.tensors[x].size : bytes,
                           inPlace ? static_cast<int32_t>(x) : -1);
      if (i % 6 == 5) { // residual join
        y = g.apply({y, skip}, g.tensors[y].size);
        skip = y;
      }
      x = y;
    }
    auto plan = planMemory(g.tensors);
    ASSERT_TRUE(plan.isOk());
    ASSERT_TRUE(verifyMemoryPlan(g.tensors, *plan).isOk());
    worst = std::max(worst, plan->ratio());
  }
  std::printf("[planner] random chains with skips: worst ratio %.4f\n", worst);
  EXPECT_LE(worst, 1.5);
}

} // namespace
} // namespace gaon::rt
