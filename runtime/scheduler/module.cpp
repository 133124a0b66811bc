// Module: an artifact loaded on a device, run as a DAG over several queues.
#include "gaon/runtime/registry.h"
#include "gaon/runtime/scheduler.h"

#include <algorithm>
#include <chrono>
#include <map>

namespace gaon::rt {

Module::~Module() {
  // Queues drain pending work in their destructors; destroy them before the
  // buffers they may still touch.
  queues_.clear();
}

uint64_t Module::deviceBytes() const {
  return (weights_ ? weights_->size() : 0) + (arena_ ? arena_->size() : 0);
}

Result<std::unique_ptr<Module>>
Module::load(std::shared_ptr<Device> device,
             std::shared_ptr<const Artifact> artifact,
             const ModuleOptions &options) {
  if (!device || !artifact)
    return errorStatus(StatusCode::InvalidArgument, "no device or artifact");
  std::unique_ptr<Module> module(new Module);
  module->device_ = std::move(device);
  module->artifact_ = std::move(artifact);
  GAON_RETURN_IF_ERROR(module->prepare(options));
  return module;
}

Status Module::prepare(const ModuleOptions &options) {
  const ModelDesc &model = artifact_->model();
  const DeviceProperties &props = device_->properties();
  std::string target = options.target.empty() ? model.target : options.target;
  program_ = model.findProgram(target);
  if (!program_) {
    // Fall back to any program for this device's driver.
    for (const ProgramDesc &candidate : model.programs)
      if (DriverRegistry::driverNameForTarget(candidate.target) ==
          device_->driverName())
        program_ = &candidate;
  }
  if (!program_)
    return errorStatus(StatusCode::NotFound, "artifact '" + model.name +
                                                 "' has no program for "
                                                 "target '" +
                                                 target + "'");
  if (DriverRegistry::driverNameForTarget(program_->target) !=
      device_->driverName())
    return errorStatus(StatusCode::FailedPrecondition,
                       "the program for target '" + program_->target +
                           "' cannot run on a '" + device_->driverName() +
                           "' device");
  for (const TensorDesc &tensor : model.tensors)
    if (!props.supports(tensor.dtype))
      return errorStatus(
          StatusCode::Unimplemented,
          std::string("device '") + props.name + "' does not support dtype " +
              dtypeName(tensor.dtype) + " (tensor '" + tensor.name + "')");
  if (options.partition >= 0 &&
      static_cast<uint32_t>(options.partition) >= props.partitionCount)
    return errorStatus(StatusCode::OutOfRange,
                       "partition " + std::to_string(options.partition) +
                           " does not exist; device '" + props.name + "' has " +
                           std::to_string(props.partitionCount));
  partition_ = options.partition < 0 ? 0 : options.partition;

  // Weights go up once; the arena holds inputs, outputs and intermediates.
  Allocator::Request request;
  request.size = artifact_->weightsSize();
  request.alignment = kWeightAlignment;
  request.usage = GAON_BUFFER_USAGE_DISPATCH | GAON_BUFFER_USAGE_CONSTANT |
                  GAON_BUFFER_USAGE_TRANSFER;
  GAON_ASSIGN_OR_RETURN(weights_, device_->allocator().allocate(request));
  GAON_RETURN_IF_ERROR(
      weights_->write(0, artifact_->weightsData(), artifact_->weightsSize()));
  request.size = model.memoryPlan.arenaSize;
  request.alignment = std::max<uint64_t>(model.memoryPlan.alignment, 64);
  request.usage = GAON_BUFFER_USAGE_DISPATCH | GAON_BUFFER_USAGE_TRANSFER;
  GAON_ASSIGN_OR_RETURN(arena_, device_->allocator().allocate(request));

  ExecutableSpec spec;
  spec.target = program_->target;
  spec.format = program_->format;
  spec.data = program_->executable.data();
  spec.size = program_->executable.size();
  spec.entryNames = program_->entries;
  GAON_ASSIGN_OR_RETURN(executable_, device_->loadExecutable(spec));

  queueCount_ =
      std::clamp<uint32_t>(options.queueCount, 1, props.maxQueuesPerPartition);
  GAON_RETURN_IF_ERROR(resetQueues());
  return buildSchedule();
}

Status Module::resetQueues() {
  // Destroying a queue drains it, so no old work can touch a new fence.
  queues_.clear();
  for (uint32_t q = 0; q < queueCount_; ++q) {
    GAON_ASSIGN_OR_RETURN(auto queue, device_->createQueue(partition_));
    queues_.push_back(std::move(queue));
  }
  fences_.clear();
  fenceValues_.assign(queues_.size(), 0);
  for (size_t q = 0; q < queues_.size(); ++q) {
    GAON_ASSIGN_OR_RETURN(auto fence, device_->createFence(0));
    fences_.push_back(std::move(fence));
  }
  return Status::ok();
}

namespace {
bool conflicts(Access a, Access b) {
  return a != Access::Read || b != Access::Read;
}
} // namespace

Status Module::buildSchedule() {
  const ModelDesc &model = artifact_->model();
  const auto &dispatches = program_->dispatches;
  const size_t count = dispatches.size();
  bindings_.assign(count, {});
  rawBindings_.assign(count, {});
  for (size_t d = 0; d < count; ++d) {
    for (const BindingDesc &binding : dispatches[d].bindings) {
      const TensorDesc *tensor = model.findTensor(binding.tensorId);
      bool isWeight = tensor->kind == TensorKind::Weight;
      Buffer *buffer = isWeight ? weights_.get() : arena_.get();
      uint64_t offset = isWeight ? tensor->weightOffset : tensor->arenaOffset;
      bindings_[d].push_back(
          {buffer, offset, tensor->sizeBytes, binding.access});
      rawBindings_[d].push_back({buffer->handle(), offset, tensor->sizeBytes});
    }
  }

  // Dependencies: explicit ones plus every conflicting access to
  // overlapping bytes by an earlier dispatch. The artifact's dispatch order
  // is a valid sequential order, so these edges keep results identical to a
  // sequential run however the queues interleave.
  dependencies_.assign(count, {});
  for (size_t d = 0; d < count; ++d) {
    std::vector<uint32_t> &deps = dependencies_[d];
    deps = dispatches[d].dependsOn;
    for (size_t e = 0; e < d; ++e) {
      bool hazard = false;
      for (const ResolvedBinding &mine : bindings_[d]) {
        for (const ResolvedBinding &theirs : bindings_[e]) {
          if (mine.buffer != theirs.buffer ||
              !conflicts(mine.access, theirs.access))
            continue;
          if (mine.offset < theirs.offset + theirs.length &&
              theirs.offset < mine.offset + mine.length) {
            hazard = true;
            break;
          }
        }
        if (hazard)
          break;
      }
      if (hazard)
        deps.push_back(static_cast<uint32_t>(e));
    }
    std::sort(deps.begin(), deps.end());
    deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
  }

  // Queue choice: continue the queue whose last dispatch we depend on (no
  // cross-queue wait); otherwise take the queue with the least work. Fixed
  // at load time, so every run uses the same schedule.
  queueOf_.assign(count, 0);
  std::vector<int64_t> lastOnQueue(queues_.size(), -1);
  std::vector<uint32_t> assigned(queues_.size(), 0);
  for (size_t d = 0; d < count; ++d) {
    int64_t chosen = -1;
    for (auto it = dependencies_[d].rbegin(); it != dependencies_[d].rend();
         ++it) {
      uint32_t q = queueOf_[*it];
      if (lastOnQueue[q] == static_cast<int64_t>(*it)) {
        chosen = q;
        break;
      }
    }
    if (chosen < 0)
      chosen =
          std::min_element(assigned.begin(), assigned.end()) - assigned.begin();
    queueOf_[d] = static_cast<uint32_t>(chosen);
    lastOnQueue[chosen] = static_cast<int64_t>(d);
    ++assigned[chosen];
  }
  return Status::ok();
}

Status Module::checkInputs(const std::vector<HostTensor> &inputs) const {
  const ModelDesc &model = artifact_->model();
  for (uint32_t id : model.inputs) {
    const TensorDesc &expected = *model.findTensor(id);
    auto it =
        std::find_if(inputs.begin(), inputs.end(), [&](const HostTensor &t) {
          return t.name == expected.name;
        });
    if (it == inputs.end())
      return errorStatus(StatusCode::InvalidArgument,
                         "missing input '" + expected.name + "' (" +
                             dtypeName(expected.dtype) + " " +
                             shapeToString(expected.shape) + ")");
    if (it->dtype != expected.dtype || it->shape != expected.shape)
      return errorStatus(
          StatusCode::InvalidArgument,
          "input '" + expected.name + "': expected " +
              dtypeName(expected.dtype) + " " + shapeToString(expected.shape) +
              ", got " + dtypeName(it->dtype) + " " + shapeToString(it->shape));
    if (it->data.size() != expected.sizeBytes)
      return errorStatus(StatusCode::InvalidArgument,
                         "input '" + expected.name + "' has " +
                             std::to_string(it->data.size()) +
                             " bytes of data, expected " +
                             std::to_string(expected.sizeBytes));
  }
  for (const HostTensor &input : inputs) {
    const TensorDesc *tensor = model.findTensor(input.name);
    if (!tensor || tensor->kind != TensorKind::Input)
      return errorStatus(StatusCode::InvalidArgument,
                         "'" + input.name + "' is not an input of the model");
  }
  return Status::ok();
}

Result<Counters> Module::sumCounters() const {
  Counters total;
  for (const auto &queue : queues_) {
    GAON_ASSIGN_OR_RETURN(Counters counters, queue->counters());
    total.dispatches += counters.dispatches;
    total.cycles += counters.cycles;
    total.energyJ += counters.energyJ;
    total.busyS += counters.busyS;
  }
  return total;
}

Result<std::vector<HostTensor>>
Module::run(const std::vector<HostTensor> &inputs, RunStats *stats) {
  GAON_RETURN_IF_ERROR(checkInputs(inputs));
  std::lock_guard<std::mutex> lock(runMutex_);
  const ModelDesc &model = artifact_->model();
  auto start = std::chrono::steady_clock::now();
  GAON_ASSIGN_OR_RETURN(Counters before, sumCounters());
  for (const HostTensor &input : inputs)
    GAON_RETURN_IF_ERROR(
        arena_->write(model.findTensor(input.name)->arenaOffset,
                      input.data.data(), input.data.size()));

  // Fence value each dispatch signals on its queue, for this run.
  const auto &dispatches = program_->dispatches;
  std::vector<uint64_t> valueOf(dispatches.size());
  std::vector<uint64_t> next = fenceValues_;
  Status submitStatus;
  for (size_t d = 0; d < dispatches.size() && submitStatus.isOk(); ++d) {
    uint32_t q = queueOf_[d];
    valueOf[d] = ++next[q];
    Submission submission;
    std::map<uint32_t, uint64_t> waitFor; // queue -> value
    for (uint32_t dep : dependencies_[d])
      if (queueOf_[dep] != q)
        waitFor[queueOf_[dep]] = std::max(waitFor[queueOf_[dep]], valueOf[dep]);
    for (const auto &wait : waitFor)
      submission.waits.push_back({fences_[wait.first].get(), wait.second});
    gaon_dispatch_t raw = {};
    raw.executable = executable_->handle();
    raw.entry_index = dispatches[d].entryIndex;
    raw.bindings = rawBindings_[d].data();
    raw.binding_count = static_cast<uint32_t>(rawBindings_[d].size());
    raw.params = dispatches[d].params.data();
    raw.params_size = static_cast<uint32_t>(dispatches[d].params.size());
    submission.dispatches.push_back(raw);
    submission.signals.push_back({fences_[q].get(), valueOf[d]});
    submitStatus = queues_[q]->submit(submission);
    if (!submitStatus.isOk()) {
      --next[q];
      // Unblock what was already submitted behind this dispatch's fence.
      break;
    }
  }
  // Wait for everything submitted, even after a failure, so that no work
  // touches the arena after we return.
  Status waitStatus;
  for (size_t q = 0; q < queues_.size(); ++q) {
    if (next[q] == fenceValues_[q])
      continue;
    Status status = fences_[q]->wait(next[q]);
    if (waitStatus.isOk() && !status.isOk())
      waitStatus = status;
  }
  if (!submitStatus.isOk() || !waitStatus.isOk()) {
    // Failed fences stay failed: drain and start the next run afresh.
    Status reset = resetQueues();
    if (!reset.isOk())
      return reset;
    return !submitStatus.isOk()
               ? submitStatus
               : Status(waitStatus.code(),
                        "running '" + model.name +
                            "' failed: " + waitStatus.message());
  }
  fenceValues_ = next;

  std::vector<HostTensor> outputs;
  for (uint32_t id : model.outputs) {
    const TensorDesc &tensor = *model.findTensor(id);
    HostTensor output;
    output.name = tensor.name;
    output.dtype = tensor.dtype;
    output.shape = tensor.shape;
    output.data.resize(tensor.sizeBytes);
    GAON_RETURN_IF_ERROR(
        arena_->read(tensor.arenaOffset, output.data.data(), tensor.sizeBytes));
    outputs.push_back(std::move(output));
  }
  if (stats) {
    GAON_ASSIGN_OR_RETURN(Counters after, sumCounters());
    stats->counters = after - before;
    stats->wallSeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
  }
  return outputs;
}

} // namespace gaon::rt
