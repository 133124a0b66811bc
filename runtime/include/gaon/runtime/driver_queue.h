// Queues with a worker thread, for in-tree drivers.
//
// Every in-process driver (host-ref, npu-sim, cuda) runs its queues the same
// way: queue_submit checks the submission and copies what it needs (the
// caller's arrays die when it returns); one worker thread per queue takes the
// submissions in order, waits for their fence points, runs their dispatches
// one after another up to the first failure, and reaches their signal fence
// points, failed with that failure's text if there was one; queue_destroy
// runs what is still pending and joins the worker. WorkerQueue owns all of
// that, and the counters.
//
// A driver derives its queue from DispatchQueue<D> and writes only what is
// its own: how one gaon_dispatch_t is checked and turned into a D (resolve),
// how one D runs and what cycles, energy and busy time that took (run), and
// optionally what the worker thread must set up first (startWorker). Its
// queue_create builds the queue and ends with startQueue(); queueDestroy,
// queueSubmit and queueQueryCounters below plug straight into
// gaon_driver_vtable_v1_t. Fences are driver_fence.h's.
#ifndef GAON_RUNTIME_DRIVER_QUEUE_H
#define GAON_RUNTIME_DRIVER_QUEUE_H

#include "gaon/runtime.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace gaon::rt::driver {

/// What running one dispatch did. The queue adds cycles, energy and busy
/// time to its counters also when the dispatch failed (that work was spent),
/// and counts the dispatch as completed only when `failure` is empty.
struct DispatchResult {
  std::string failure; ///< "" on success; else the signal fences get it
  uint64_t cycles = 0;
  double energyJ = 0;
  double busyS = 0;
};

/// The part of a queue that does not depend on what a driver records per
/// dispatch: the worker thread, the pending submissions, their fence points
/// and the counters. Drivers derive from DispatchQueue<D>, not from this.
class WorkerQueue {
public:
  WorkerQueue(const WorkerQueue &) = delete;
  WorkerQueue &operator=(const WorkerQueue &) = delete;
  /// stop() must have run: the worker calls the derived class, so it cannot
  /// be stopped from here. queueDestroy does it.
  virtual ~WorkerQueue();

  /// Starts the worker thread, once the derived queue is fully built.
  gaon_status_code_t start();
  /// Runs every submission still pending, then joins the worker. Later
  /// submissions are refused. Safe to call twice, or without start().
  void stop();

  /// queue_submit: checks and records `submission` (resolve() for each
  /// dispatch; nothing is queued if one fails), then hands it to the worker.
  gaon_status_code_t submit(const gaon_submission_t *submission);
  /// queue_query_counters: cumulative since the queue was created.
  gaon_counters_t counters();

protected:
  /// `driverName` starts every error message the queue reports ("npu-sim").
  explicit WorkerQueue(std::string driverName);

  /// Records the error as "<driver>: <message>" and returns `code`.
  gaon_status_code_t fail(gaon_status_code_t code,
                          const std::string &message) const;

  /// Runs on the worker thread before it takes its first submission (cuda
  /// makes its context current there: contexts are per thread). A non-empty
  /// result fails every submission with that text, after its waits.
  virtual std::string startWorker() { return ""; }

  /// One submission as the worker sees it; DispatchQueue adds its dispatches.
  struct Recorded {
    virtual ~Recorded() = default;
    std::vector<gaon_fence_point_t> waits, signals;
    uint32_t dispatchCount = 0;
  };

private:
  // The typed side, implemented by DispatchQueue<D> only.
  virtual std::unique_ptr<Recorded> newRecorded(uint32_t dispatchCount) = 0;
  virtual gaon_status_code_t record(Recorded &submission,
                                    const gaon_dispatch_t &dispatch,
                                    uint32_t index) = 0;
  virtual DispatchResult runRecorded(const Recorded &submission,
                                     uint32_t index) = 0;

  void work();
  void execute(const Recorded &submission, const std::string &workerFailure);

  const std::string driverName_;
  std::mutex mutex_; // guards everything below
  std::condition_variable hasWork_;
  std::deque<std::unique_ptr<Recorded>> pending_;
  bool stopping_ = false;
  gaon_counters_t counters_ = {};
  std::thread worker_;
};

/// A queue whose submissions keep one `Dispatch` per gaon_dispatch_t: the
/// driver's own record of it (executable, resolved bindings, parameters).
template <typename Dispatch> class DispatchQueue : public WorkerQueue {
protected:
  using WorkerQueue::WorkerQueue;

  /// Checks dispatch `index` of a submission and fills `out` with what
  /// running it needs. Called on the submitting thread, so it must be thread
  /// safe. Returns GAON_OK, or fail(code, "dispatch <index>: ...").
  virtual gaon_status_code_t resolve(const gaon_dispatch_t &dispatch,
                                     uint32_t index, Dispatch &out) = 0;
  /// Runs one dispatch on the worker thread. `index` of `count` places it in
  /// its submission, for messages.
  virtual DispatchResult run(const Dispatch &dispatch, uint32_t index,
                             uint32_t count) = 0;

private:
  struct Submission final : Recorded {
    std::vector<Dispatch> dispatches;
  };

  std::unique_ptr<Recorded> newRecorded(uint32_t dispatchCount) final {
    auto submission = std::make_unique<Submission>();
    submission->dispatches.reserve(dispatchCount);
    return submission;
  }
  gaon_status_code_t record(Recorded &submission,
                            const gaon_dispatch_t &dispatch,
                            uint32_t index) final {
    Dispatch out{};
    gaon_status_code_t code = resolve(dispatch, index, out);
    if (code == GAON_OK)
      static_cast<Submission &>(submission)
          .dispatches.push_back(std::move(out));
    return code;
  }
  DispatchResult runRecorded(const Recorded &submission, uint32_t index) final {
    return run(static_cast<const Submission &>(submission).dispatches[index],
               index, submission.dispatchCount);
  }
};

/// The gaon_queue_t a driver's queue_create returns, and back.
gaon_queue_t *queueHandle(WorkerQueue *queue);
WorkerQueue *queueFromHandle(gaon_queue_t *queue);

/// The end of every queue_create: starts the queue's worker and hands the
/// queue out as *out, or deletes it and returns why it could not start.
gaon_status_code_t startQueue(std::unique_ptr<WorkerQueue> queue,
                              gaon_queue_t **out);

/// Vtable entries for queues made with queueHandle: queue_destroy (stop(),
/// then delete), queue_submit and queue_query_counters.
void queueDestroy(gaon_queue_t *queue);
gaon_status_code_t queueSubmit(gaon_queue_t *queue,
                               const gaon_submission_t *submission);
gaon_status_code_t queueQueryCounters(gaon_queue_t *queue,
                                      gaon_counters_t *out);

} // namespace gaon::rt::driver

#endif // GAON_RUNTIME_DRIVER_QUEUE_H
