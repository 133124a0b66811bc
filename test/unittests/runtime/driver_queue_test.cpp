// The in-tree drivers' shared queue (gaon/runtime/driver_queue.h) with a
// test driver: submission order, fence waits, failures reaching the signal
// fences and later waiters, rejected submissions, counters, destroy with
// pending work, a worker that cannot start, concurrent submitters.
#include "gaon/runtime/driver_fence.h"
#include "gaon/runtime/driver_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gaon::rt::driver {
namespace {

// What the test driver reads from a dispatch's params.
struct Params {
  uint32_t id = 0;
  uint32_t sleepUs = 0;
};

// Entry 0 runs, entry 1 fails, other entries are rejected at submit.
struct TestDispatch {
  uint32_t id = 0;
  uint32_t sleepUs = 0;
  bool fails = false;
};

// The ids of the dispatches that ran, in order; outlives the queues.
struct RunLog {
  std::mutex mutex;
  std::vector<uint32_t> ids;

  void add(uint32_t id) {
    std::lock_guard<std::mutex> lock(mutex);
    ids.push_back(id);
  }
  std::vector<uint32_t> snapshot() {
    std::lock_guard<std::mutex> lock(mutex);
    return ids;
  }
};

class TestQueue final : public DispatchQueue<TestDispatch> {
public:
  TestQueue(RunLog &log, std::string workerFailure)
      : DispatchQueue("test-driver"), log_(log),
        workerFailure_(std::move(workerFailure)) {}

private:
  std::string startWorker() override { return workerFailure_; }

  gaon_status_code_t resolve(const gaon_dispatch_t &dispatch, uint32_t index,
                             TestDispatch &out) override {
    if (dispatch.entry_index > 1)
      return fail(GAON_OUT_OF_RANGE, "dispatch " + std::to_string(index) +
                                         ": no entry " +
                                         std::to_string(dispatch.entry_index));
    if (dispatch.params_size != sizeof(Params) || !dispatch.params)
      return fail(GAON_INVALID_ARGUMENT,
                  "dispatch " + std::to_string(index) + ": bad params");
    Params params;
    std::memcpy(&params, dispatch.params, sizeof(params));
    out = {params.id, params.sleepUs, dispatch.entry_index == 1};
    return GAON_OK;
  }

  DispatchResult run(const TestDispatch &dispatch, uint32_t index,
                     uint32_t count) override {
    std::this_thread::sleep_for(std::chrono::microseconds(dispatch.sleepUs));
    log_.add(dispatch.id);
    DispatchResult result;
    result.cycles = 10;
    result.energyJ = 0.5;
    result.busyS = 0.25;
    if (dispatch.fails)
      result.failure = "test-driver: dispatch " + std::to_string(index) +
                       " of " + std::to_string(count) + " failed";
    return result;
  }

  RunLog &log_;
  const std::string workerFailure_;
};

struct Step {
  uint32_t entry;
  Params params;
};
Step ok(uint32_t id, uint32_t sleepUs = 0) { return {0, {id, sleepUs}}; }
Step failing(uint32_t id) { return {1, {id, 0}}; }

class DriverQueueTest : public testing::Test {
protected:
  void TearDown() override {
    for (gaon_queue_t *queue : queues)
      queueDestroy(queue);
    for (gaon_fence_t *fence : fences)
      fenceDestroy(fence);
  }

  gaon_queue_t *newQueue(std::string workerFailure = "") {
    gaon_queue_t *queue = nullptr;
    auto made = std::make_unique<TestQueue>(log, std::move(workerFailure));
    EXPECT_EQ(startQueue(std::move(made), &queue), GAON_OK);
    queues.push_back(queue);
    return queue;
  }

  void destroy(gaon_queue_t *queue) {
    queues.erase(std::find(queues.begin(), queues.end(), queue));
    queueDestroy(queue);
  }

  gaon_fence_t *newFence() {
    gaon_fence_t *fence = nullptr;
    EXPECT_EQ(fenceCreate(nullptr, 0, &fence), GAON_OK);
    fences.push_back(fence);
    return fence;
  }

  // The arrays die when this returns, as the C ABI allows.
  static gaon_status_code_t submit(gaon_queue_t *queue, std::vector<Step> steps,
                                   std::vector<gaon_fence_point_t> waits,
                                   std::vector<gaon_fence_point_t> signals) {
    std::vector<gaon_dispatch_t> dispatches;
    for (const Step &step : steps) {
      gaon_dispatch_t dispatch = {};
      dispatch.entry_index = step.entry;
      dispatch.params = reinterpret_cast<const uint8_t *>(&step.params);
      dispatch.params_size = sizeof(Params);
      dispatches.push_back(dispatch);
    }
    gaon_submission_t submission = {
        waits.data(),      static_cast<uint32_t>(waits.size()),
        dispatches.data(), static_cast<uint32_t>(dispatches.size()),
        signals.data(),    static_cast<uint32_t>(signals.size())};
    return queueSubmit(queue, &submission);
  }

  static uint64_t fenceValue(gaon_fence_t *fence) {
    uint64_t value = 0;
    EXPECT_EQ(fenceQuery(fence, &value), GAON_OK);
    return value;
  }

  static gaon_counters_t counters(gaon_queue_t *queue) {
    gaon_counters_t out = {};
    EXPECT_EQ(queueQueryCounters(queue, &out), GAON_OK);
    return out;
  }

  RunLog log;
  std::vector<gaon_queue_t *> queues;
  std::vector<gaon_fence_t *> fences;
};

TEST_F(DriverQueueTest, RunsDispatchesInSubmissionOrderAndCounts) {
  gaon_queue_t *queue = newQueue();
  gaon_fence_t *done = newFence();
  // Earlier dispatches sleep longer: only the queue's order puts them first.
  ASSERT_EQ(submit(queue, {ok(1, 3000), ok(2, 2000)}, {}, {{done, 1}}),
            GAON_OK);
  ASSERT_EQ(submit(queue, {ok(3, 1000)}, {}, {{done, 2}}), GAON_OK);
  ASSERT_EQ(submit(queue, {ok(4), ok(5), ok(6)}, {}, {{done, 3}}), GAON_OK);
  ASSERT_EQ(fenceWait(done, 3, GAON_TIMEOUT_INFINITE), GAON_OK);
  EXPECT_EQ(log.snapshot(), (std::vector<uint32_t>{1, 2, 3, 4, 5, 6}));
  gaon_counters_t total = counters(queue);
  EXPECT_EQ(total.dispatches, 6u);
  EXPECT_EQ(total.cycles, 60u);
  EXPECT_DOUBLE_EQ(total.energy_j, 3.0);
  EXPECT_DOUBLE_EQ(total.busy_s, 1.5);
}

TEST_F(DriverQueueTest, WaitsHoldBackTheSubmissionAndEverythingBehindIt) {
  gaon_queue_t *queue = newQueue();
  gaon_fence_t *gate = newFence();
  gaon_fence_t *done = newFence();
  ASSERT_EQ(submit(queue, {ok(7)}, {{gate, 2}}, {{done, 1}}), GAON_OK);
  ASSERT_EQ(submit(queue, {ok(8)}, {}, {{done, 2}}), GAON_OK);
  EXPECT_EQ(fenceWait(done, 1, 20 * 1000 * 1000), GAON_DEADLINE_EXCEEDED);
  ASSERT_EQ(fenceSignal(gate, 1), GAON_OK); // not yet the point it waits for
  EXPECT_EQ(fenceWait(done, 1, 20 * 1000 * 1000), GAON_DEADLINE_EXCEEDED);
  EXPECT_TRUE(log.snapshot().empty());
  EXPECT_EQ(fenceValue(done), 0u);
  ASSERT_EQ(fenceSignal(gate, 2), GAON_OK);
  ASSERT_EQ(fenceWait(done, 2, GAON_TIMEOUT_INFINITE), GAON_OK);
  EXPECT_EQ(log.snapshot(), (std::vector<uint32_t>{7, 8}));
}

TEST_F(DriverQueueTest, FailureStopsTheSubmissionAndFailsItsSignals) {
  gaon_queue_t *q0 = newQueue();
  gaon_queue_t *q1 = newQueue();
  gaon_fence_t *f0 = newFence();
  gaon_fence_t *f1 = newFence();
  gaon_fence_t *dependent = newFence();
  ASSERT_EQ(submit(q0, {ok(1), failing(2), ok(3)}, {}, {{f0, 1}, {f1, 5}}),
            GAON_OK);
  // On another queue, behind the failed fence: never runs, fails the same.
  ASSERT_EQ(submit(q1, {ok(4)}, {{f0, 1}}, {{dependent, 1}}), GAON_OK);
  const std::string failure = "test-driver: dispatch 1 of 3 failed";
  for (gaon_fence_t *fence : {f0, f1, dependent}) {
    EXPECT_EQ(fenceWait(fence, 1, GAON_TIMEOUT_INFINITE), GAON_ABORTED);
    EXPECT_EQ(std::string(gaon_last_error_message()), failure);
  }
  // The queue goes on with later work.
  gaon_fence_t *after = newFence();
  ASSERT_EQ(submit(q0, {ok(5)}, {}, {{after, 1}}), GAON_OK);
  ASSERT_EQ(fenceWait(after, 1, GAON_TIMEOUT_INFINITE), GAON_OK);
  EXPECT_EQ(log.snapshot(), (std::vector<uint32_t>{1, 2, 5}));
  // The failed dispatch's work counts, the dispatch does not.
  gaon_counters_t total = counters(q0);
  EXPECT_EQ(total.dispatches, 2u);
  EXPECT_EQ(total.cycles, 30u);
  EXPECT_EQ(counters(q1).dispatches, 0u);
}

TEST_F(DriverQueueTest, RejectedSubmissionsQueueNothing) {
  gaon_queue_t *queue = newQueue();
  gaon_fence_t *done = newFence();
  EXPECT_EQ(submit(queue, {ok(1), {2, {2, 0}}}, {}, {{done, 1}}),
            GAON_OUT_OF_RANGE);
  EXPECT_EQ(std::string(gaon_last_error_message()),
            "test-driver: dispatch 1: no entry 2");
  gaon_submission_t noArrays = {nullptr, 1, nullptr, 0, nullptr, 0};
  EXPECT_EQ(queueSubmit(queue, &noArrays), GAON_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(gaon_last_error_message()),
            "test-driver: submission arrays are null");
  EXPECT_EQ(submit(queue, {ok(3)}, {}, {{nullptr, 1}}), GAON_INVALID_ARGUMENT);
  EXPECT_EQ(queueSubmit(queue, nullptr), GAON_INVALID_ARGUMENT);
  EXPECT_EQ(queueSubmit(nullptr, &noArrays), GAON_INVALID_ARGUMENT);
  EXPECT_EQ(queueQueryCounters(queue, nullptr), GAON_INVALID_ARGUMENT);
  destroy(queue); // runs whatever was queued
  EXPECT_TRUE(log.snapshot().empty());
  EXPECT_EQ(fenceValue(done), 0u);
}

TEST_F(DriverQueueTest, DestroyRunsPendingWorkThenStops) {
  gaon_queue_t *queue = newQueue();
  gaon_fence_t *done = newFence();
  for (uint32_t i = 1; i <= 20; ++i)
    ASSERT_EQ(submit(queue, {ok(i, 500)}, {}, {{done, i}}), GAON_OK);
  destroy(queue);
  std::vector<uint32_t> expected;
  for (uint32_t i = 1; i <= 20; ++i)
    expected.push_back(i);
  EXPECT_EQ(log.snapshot(), expected);
  EXPECT_EQ(fenceValue(done), 20u);
}

TEST_F(DriverQueueTest, StoppedQueueRefusesWork) {
  auto queue = std::make_unique<TestQueue>(log, "");
  ASSERT_EQ(queue->start(), GAON_OK);
  queue->stop();
  gaon_fence_t *done = newFence();
  EXPECT_EQ(submit(queueHandle(queue.get()), {ok(1)}, {}, {{done, 1}}),
            GAON_FAILED_PRECONDITION);
  queue->stop(); // twice is fine
  EXPECT_TRUE(log.snapshot().empty());
}

TEST_F(DriverQueueTest, WorkerThatCannotStartFailsEverySubmission) {
  gaon_queue_t *queue = newQueue("test-driver: no context on the worker");
  gaon_fence_t *gate = newFence();
  gaon_fence_t *done = newFence();
  ASSERT_EQ(submit(queue, {ok(1)}, {{gate, 1}}, {{done, 1}}), GAON_OK);
  // Its waits still come first.
  EXPECT_EQ(fenceWait(done, 1, 20 * 1000 * 1000), GAON_DEADLINE_EXCEEDED);
  ASSERT_EQ(fenceSignal(gate, 1), GAON_OK);
  EXPECT_EQ(fenceWait(done, 1, GAON_TIMEOUT_INFINITE), GAON_ABORTED);
  EXPECT_EQ(std::string(gaon_last_error_message()),
            "test-driver: no context on the worker");
  EXPECT_TRUE(log.snapshot().empty());
  EXPECT_EQ(counters(queue).dispatches, 0u);
}

TEST_F(DriverQueueTest, ConcurrentSubmittersKeepTheirOwnOrder) {
  gaon_queue_t *queue = newQueue();
  constexpr uint32_t kThreads = 4, kEach = 50;
  std::vector<gaon_fence_t *> done;
  for (uint32_t t = 0; t < kThreads; ++t)
    done.push_back(newFence());
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (uint32_t i = 1; i <= kEach; ++i)
        EXPECT_EQ(submit(queue, {ok(t * 1000 + i)}, {}, {{done[t], i}}),
                  GAON_OK);
    });
  for (std::thread &thread : threads)
    thread.join();
  for (gaon_fence_t *fence : done)
    ASSERT_EQ(fenceWait(fence, kEach, GAON_TIMEOUT_INFINITE), GAON_OK);
  std::vector<uint32_t> ids = log.snapshot();
  ASSERT_EQ(ids.size(), kThreads * kEach);
  std::vector<uint32_t> last(kThreads, 0);
  for (uint32_t id : ids) {
    uint32_t t = id / 1000, i = id % 1000;
    EXPECT_EQ(i, last[t] + 1) << "thread " << t;
    last[t] = i;
  }
  EXPECT_EQ(counters(queue).dispatches, kThreads * kEach);
}

} // namespace
} // namespace gaon::rt::driver
