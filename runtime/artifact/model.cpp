// ModelDesc lookups and the consistency checks shared by reader and writer.
#include "gaon/runtime/artifact.h"

#include <set>
#include <unordered_map>

namespace gaon::rt {

const char *tensorKindName(TensorKind kind) {
  switch (kind) {
  case TensorKind::Input:
    return "input";
  case TensorKind::Output:
    return "output";
  case TensorKind::Weight:
    return "weight";
  case TensorKind::Intermediate:
    return "intermediate";
  }
  return "invalid";
}

const TensorDesc *ModelDesc::findTensor(uint32_t id) const {
  // Writers assign id == index; fall back to a scan for other producers.
  if (id < tensors.size() && tensors[id].id == id)
    return &tensors[id];
  for (const TensorDesc &tensor : tensors)
    if (tensor.id == id)
      return &tensor;
  return nullptr;
}

const TensorDesc *ModelDesc::findTensor(const std::string &name) const {
  for (const TensorDesc &tensor : tensors)
    if (tensor.name == name)
      return &tensor;
  return nullptr;
}

const ProgramDesc *
ModelDesc::findProgram(const std::string &programTarget) const {
  for (const ProgramDesc &program : programs)
    if (program.target == programTarget)
      return &program;
  return nullptr;
}

namespace {

Status invalid(const std::string &message) {
  return errorStatus(StatusCode::DataLoss, "invalid artifact: " + message);
}

Status validateTensor(const TensorDesc &tensor, const MemoryPlanDesc &plan,
                      uint64_t weightsSize) {
  std::string what =
      "tensor " + std::to_string(tensor.id) + " ('" + tensor.name + "')";
  if (!isValidDType(static_cast<int32_t>(tensor.dtype)))
    return invalid(what + " has unknown dtype " +
                   std::to_string(static_cast<int32_t>(tensor.dtype)));
  auto size = tensorByteSize(tensor.dtype, tensor.shape);
  if (!size)
    return invalid(what + " has an invalid shape " +
                   shapeToString(tensor.shape));
  if (*size != tensor.sizeBytes)
    return invalid(what + " records " + std::to_string(tensor.sizeBytes) +
                   " bytes but " + dtypeName(tensor.dtype) + " x " +
                   shapeToString(tensor.shape) + " needs " +
                   std::to_string(*size));
  switch (tensor.kind) {
  case TensorKind::Weight:
    if (tensor.weightOffset % kWeightAlignment)
      return invalid(what + " weight offset " +
                     std::to_string(tensor.weightOffset) + " is not " +
                     std::to_string(kWeightAlignment) + "-byte aligned");
    if (tensor.weightOffset > weightsSize ||
        tensor.sizeBytes > weightsSize - tensor.weightOffset)
      return invalid(what + " lies outside the weights section (offset " +
                     std::to_string(tensor.weightOffset) + ", size " +
                     std::to_string(tensor.sizeBytes) + ", section " +
                     std::to_string(weightsSize) + ")");
    return Status::ok();
  case TensorKind::Input:
  case TensorKind::Output:
  case TensorKind::Intermediate:
    if (tensor.arenaOffset % plan.alignment)
      return invalid(what + " arena offset is not aligned");
    if (tensor.arenaOffset > plan.arenaSize ||
        tensor.sizeBytes > plan.arenaSize - tensor.arenaOffset)
      return invalid(what + " lies outside the arena (offset " +
                     std::to_string(tensor.arenaOffset) + ", size " +
                     std::to_string(tensor.sizeBytes) + ", arena " +
                     std::to_string(plan.arenaSize) + ")");
    return Status::ok();
  }
  return invalid(what + " has an unknown kind");
}

Status validateSignature(const ModelDesc &model,
                         const std::vector<uint32_t> &ids, TensorKind kind) {
  std::set<uint32_t> seen;
  std::set<std::string> names;
  for (uint32_t id : ids) {
    const TensorDesc *tensor = model.findTensor(id);
    if (!tensor)
      return invalid(std::string("graph ") + tensorKindName(kind) +
                     " refers to missing tensor " + std::to_string(id));
    if (tensor->kind != kind)
      return invalid(std::string("graph ") + tensorKindName(kind) + " '" +
                     tensor->name + "' is a " + tensorKindName(tensor->kind) +
                     " tensor");
    if (!seen.insert(id).second || !names.insert(tensor->name).second)
      return invalid(std::string("graph ") + tensorKindName(kind) + " '" +
                     tensor->name + "' is listed twice");
  }
  return Status::ok();
}

Status validateProgram(const ModelDesc &model, const ProgramDesc &program) {
  std::string what = "program '" + program.target + "'";
  if (program.target.empty())
    return invalid("a program has no target");
  for (size_t d = 0; d < program.dispatches.size(); ++d) {
    const DispatchDesc &dispatch = program.dispatches[d];
    std::string where = what + " dispatch " + std::to_string(d);
    if (dispatch.entryIndex >= program.entries.size())
      return invalid(where + " uses entry " +
                     std::to_string(dispatch.entryIndex) + " of " +
                     std::to_string(program.entries.size()));
    for (const BindingDesc &binding : dispatch.bindings) {
      const TensorDesc *tensor = model.findTensor(binding.tensorId);
      if (!tensor)
        return invalid(where + " binds missing tensor " +
                       std::to_string(binding.tensorId));
      if (static_cast<int>(binding.access) < 0 ||
          static_cast<int>(binding.access) > 2)
        return invalid(where + " has an unknown binding access");
      if (tensor->kind == TensorKind::Weight && binding.access != Access::Read)
        return invalid(where + " writes weight '" + tensor->name + "'");
    }
    for (uint32_t dependency : dispatch.dependsOn)
      if (dependency >= d)
        return invalid(where + " depends on dispatch " +
                       std::to_string(dependency) +
                       ", which is not an earlier one");
  }
  return Status::ok();
}

} // namespace

Status validateModel(const ModelDesc &model, uint64_t weightsSize) {
  if (model.target.empty())
    return invalid("no target");
  const MemoryPlanDesc &plan = model.memoryPlan;
  if (plan.alignment == 0 || (plan.alignment & (plan.alignment - 1)))
    return invalid("memory plan alignment " + std::to_string(plan.alignment) +
                   " is not a power of two");
  if (plan.lowerBound > plan.arenaSize)
    return invalid("memory plan lower bound exceeds the arena size");
  std::unordered_map<uint32_t, size_t> ids;
  for (size_t i = 0; i < model.tensors.size(); ++i) {
    const TensorDesc &tensor = model.tensors[i];
    if (!ids.emplace(tensor.id, i).second)
      return invalid("tensor id " + std::to_string(tensor.id) +
                     " is used twice");
    GAON_RETURN_IF_ERROR(validateTensor(tensor, plan, weightsSize));
  }
  GAON_RETURN_IF_ERROR(
      validateSignature(model, model.inputs, TensorKind::Input));
  GAON_RETURN_IF_ERROR(
      validateSignature(model, model.outputs, TensorKind::Output));
  std::set<std::string> targets;
  for (const ProgramDesc &program : model.programs) {
    if (!targets.insert(program.target).second)
      return invalid("two programs for target '" + program.target + "'");
    GAON_RETURN_IF_ERROR(validateProgram(model, program));
  }
  return Status::ok();
}

} // namespace gaon::rt
