//===- Schedule.cpp - Tile, partition and buffer choices per kernel -------===//
//
// The scheduling decisions are made step by step (tile, partition, buffer)
// so that the compiler can run each step as its own pass and record the
// result on the op; the kernels follow whatever schedule they are given and
// fall back to defaultSchedule (all steps in order) when given none.
//
//===----------------------------------------------------------------------===//

#include "Common.h"

namespace gaon::npu_kernels {

using namespace npu_sim;
using namespace detail;

namespace {

template <class... Fs> struct Overloaded : Fs... { using Fs::operator()...; };
template <class... Fs> Overloaded(Fs...) -> Overloaded<Fs...>;

void plan(const ChipDesc &chip, const Problem &problem, PlanStep step,
          Schedule &schedule) {
  std::visit(
      Overloaded{
          [&](const MatmulProblem &p) { planMatmul(chip, p, step, schedule); },
          [&](const AttentionProblem &p) {
            planAttention(chip, p, step, schedule);
          },
          [&](const RowProblem &p) { planRows(chip, p, step, schedule); },
      },
      problem);
}

} // namespace

std::string planStep(const ChipDesc &chip, const Problem &problem,
                     PlanStep step, Schedule &schedule) {
  // The compiler is built without exceptions: errors become strings here.
  try {
    plan(chip, problem, step, schedule);
    return "";
  } catch (const std::exception &e) {
    std::string what = e.what();
    return what.empty() ? "scheduling failed" : what;
  }
}

Schedule defaultSchedule(const ChipDesc &chip, const Problem &problem) {
  Schedule schedule;
  for (PlanStep step : {PlanStep::Tile, PlanStep::Partition, PlanStep::Buffer})
    plan(chip, problem, step, schedule);
  return schedule;
}

uint64_t scheduleBytes(const ChipDesc &chip, const Problem &problem,
                       const Schedule &schedule) {
  return std::visit(
      Overloaded{
          [&](const MatmulProblem &p) {
            return matmulBytes(chip, p, schedule);
          },
          [&](const AttentionProblem &p) {
            return attentionBytes(chip, p, schedule);
          },
          [&](const RowProblem &p) { return rowBytes(chip, p, schedule); },
      },
      problem);
}

} // namespace gaon::npu_kernels
