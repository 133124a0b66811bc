// Queues with a worker thread, for in-tree drivers (see driver_queue.h).
#include "gaon/runtime/driver_queue.h"

#include "gaon/runtime/driver_fence.h"

#include <system_error>

namespace gaon::rt::driver {
namespace {

bool arraysPresent(const gaon_submission_t &submission) {
  return (!submission.wait_count || submission.waits) &&
         (!submission.signal_count || submission.signals) &&
         (!submission.dispatch_count || submission.dispatches);
}

// A fence point without a fence would crash the worker, not the caller.
bool fencesPresent(const gaon_fence_point_t *points, uint32_t count) {
  for (uint32_t i = 0; i < count; ++i)
    if (!points[i].fence)
      return false;
  return true;
}

} // namespace

WorkerQueue::WorkerQueue(std::string driverName)
    : driverName_(std::move(driverName)) {}

WorkerQueue::~WorkerQueue() {
  // A worker still running here would call into the destroyed derived
  // queue; std::thread's destructor terminates instead.
}

gaon_status_code_t WorkerQueue::fail(gaon_status_code_t code,
                                     const std::string &message) const {
  return gaon_set_error(code, (driverName_ + ": " + message).c_str());
}

gaon_status_code_t WorkerQueue::start() {
  if (worker_.joinable())
    return fail(GAON_FAILED_PRECONDITION, "the queue is already started");
  try {
    worker_ = std::thread([this] { work(); });
  } catch (const std::system_error &e) {
    return fail(GAON_UNAVAILABLE,
                std::string("cannot start the queue's worker thread: ") +
                    e.what());
  }
  return GAON_OK;
}

void WorkerQueue::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  hasWork_.notify_all();
  if (worker_.joinable())
    worker_.join();
}

gaon_status_code_t WorkerQueue::submit(const gaon_submission_t *in) {
  if (!in)
    return fail(GAON_INVALID_ARGUMENT, "null argument");
  const gaon_submission_t &submission = *in;
  if (!arraysPresent(submission))
    return fail(GAON_INVALID_ARGUMENT, "submission arrays are null");
  if (!fencesPresent(submission.waits, submission.wait_count) ||
      !fencesPresent(submission.signals, submission.signal_count))
    return fail(GAON_INVALID_ARGUMENT, "a fence point has no fence");
  std::unique_ptr<Recorded> recorded = newRecorded(submission.dispatch_count);
  recorded->waits.assign(submission.waits,
                         submission.waits + submission.wait_count);
  recorded->signals.assign(submission.signals,
                           submission.signals + submission.signal_count);
  for (uint32_t i = 0; i < submission.dispatch_count; ++i) {
    gaon_status_code_t code = record(*recorded, submission.dispatches[i], i);
    if (code != GAON_OK)
      return code;
  }
  recorded->dispatchCount = submission.dispatch_count;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // Nothing would run it, and its signal fences would never be reached.
    if (stopping_)
      return fail(GAON_FAILED_PRECONDITION, "the queue is being destroyed");
    pending_.push_back(std::move(recorded));
  }
  hasWork_.notify_one();
  return GAON_OK;
}

gaon_counters_t WorkerQueue::counters() {
  std::lock_guard<std::mutex> lock(mutex_);
  return counters_;
}

void WorkerQueue::work() {
  const std::string workerFailure = startWorker();
  for (;;) {
    std::unique_ptr<Recorded> submission;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      hasWork_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      if (pending_.empty())
        return; // stopping and drained
      submission = std::move(pending_.front());
      pending_.pop_front();
    }
    execute(*submission, workerFailure);
  }
}

void WorkerQueue::execute(const Recorded &submission,
                          const std::string &workerFailure) {
  std::string failure;
  for (const gaon_fence_point_t &wait : submission.waits)
    if (failure.empty())
      failure = waitFencePoint(wait);
  if (failure.empty())
    failure = workerFailure;
  for (uint32_t i = 0; i < submission.dispatchCount && failure.empty(); ++i) {
    DispatchResult result = runRecorded(submission, i);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      counters_.dispatches += result.failure.empty() ? 1 : 0;
      counters_.cycles += result.cycles;
      counters_.energy_j += result.energyJ;
      counters_.busy_s += result.busyS;
    }
    failure = std::move(result.failure);
  }
  for (const gaon_fence_point_t &signal : submission.signals)
    reachFencePoint(signal, failure);
}

gaon_queue_t *queueHandle(WorkerQueue *queue) {
  return reinterpret_cast<gaon_queue_t *>(queue);
}

WorkerQueue *queueFromHandle(gaon_queue_t *queue) {
  return reinterpret_cast<WorkerQueue *>(queue);
}

gaon_status_code_t startQueue(std::unique_ptr<WorkerQueue> queue,
                              gaon_queue_t **out) {
  if (gaon_status_code_t code = queue->start(); code != GAON_OK)
    return code;
  *out = queueHandle(queue.release());
  return GAON_OK;
}

void queueDestroy(gaon_queue_t *handle) {
  WorkerQueue *queue = queueFromHandle(handle);
  if (!queue)
    return;
  queue->stop();
  delete queue;
}

gaon_status_code_t queueSubmit(gaon_queue_t *handle,
                               const gaon_submission_t *submission) {
  WorkerQueue *queue = queueFromHandle(handle);
  if (!queue)
    return gaon_set_error(GAON_INVALID_ARGUMENT, "queue_submit: null queue");
  return queue->submit(submission);
}

gaon_status_code_t queueQueryCounters(gaon_queue_t *handle,
                                      gaon_counters_t *out) {
  WorkerQueue *queue = queueFromHandle(handle);
  if (!queue || !out)
    return gaon_set_error(GAON_INVALID_ARGUMENT,
                          "queue_query_counters: null argument");
  *out = queue->counters();
  return GAON_OK;
}

} // namespace gaon::rt::driver
