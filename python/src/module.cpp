//===- module.cpp - The gaon._gaon extension module -----------------------===//
//
// Python bindings of the compiler (in-process, the steps of gaon-compile),
// the runtime (gaon::rt::Module, as gaon-run) and gaon-bench. The Python
// wrapper in gaon/__init__.py turns keyword arguments into the plain values
// these functions take.
//
// Zero copy: outputs are NumPy arrays over the runtime's result buffers,
// owned by a capsule (no copy after the device read). Inputs that are
// C-contiguous and of the model's dtype are used as they are (no
// conversion); the runtime's Module::run takes owning HostTensors, so their
// bytes are copied once into one before the device upload.
//
//===----------------------------------------------------------------------===//

#include "Bench.h"

#include "gaon/Compiler/Reference/GraphInterpreter.h"
#include "gaon/Dialect/Graph/RuntimeDType.h"
#include "gaon/Tools/CompileModel.h"
#include "gaon/npu_sim_runtime/Driver.h"
#include "gaon/runtime/artifact.h"
#include "gaon/runtime/registry.h"
#include "gaon/runtime/scheduler.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace py = pybind11;
using namespace gaon;

namespace {

/// gaon.GaonError: compile and run failures, with the CLI's messages.
struct GaonError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The compiler's collected diagnostics read "error: X\nnote: ..."; the
// exception says "X\nnote: ..." (Python adds the exception's type).
std::string exceptionText(std::string text) {
  if (text.rfind("error: ", 0) == 0)
    text.erase(0, 7);
  return text.empty() ? "compilation failed" : text;
}

//===----------------------------------------------------------------------===//
// dtypes
//===----------------------------------------------------------------------===//

// NumPy's dtype for a runtime dtype; bf16 has none and is widened to f32.
py::dtype numpyDType(rt::DType dtype) {
  switch (dtype) {
  case rt::DType::F32:
  case rt::DType::BF16:
    return py::dtype::of<float>();
  case rt::DType::F16:
    return py::dtype("float16");
  case rt::DType::F64:
    return py::dtype::of<double>();
  case rt::DType::I8:
    return py::dtype::of<int8_t>();
  case rt::DType::U8:
  case rt::DType::F8E4M3FN:
  case rt::DType::F8E5M2:
    return py::dtype::of<uint8_t>(); // fp8: the raw bytes
  case rt::DType::I16:
    return py::dtype::of<int16_t>();
  case rt::DType::U16:
    return py::dtype::of<uint16_t>();
  case rt::DType::I32:
    return py::dtype::of<int32_t>();
  case rt::DType::U32:
    return py::dtype::of<uint32_t>();
  case rt::DType::I64:
    return py::dtype::of<int64_t>();
  case rt::DType::U64:
    return py::dtype::of<uint64_t>();
  case rt::DType::Bool:
    return py::dtype::of<bool>();
  default:
    throw GaonError(std::string("no NumPy type for dtype ") +
                    rt::dtypeName(dtype));
  }
}

struct TensorInfo {
  std::string name;
  rt::DType dtype;
  std::vector<int64_t> shape;
};

py::dict describe(const TensorInfo &info) {
  py::dict d;
  d["name"] = info.name;
  d["dtype"] = rt::dtypeName(info.dtype);
  d["shape"] = info.shape;
  return d;
}

// `value` as a C-contiguous array of the input's dtype: the same object when
// it already is one, else a converted copy (same-kind casts only, so that
// floats never silently become ids).
py::array inputArray(const TensorInfo &info, py::handle value) {
  py::module_ np = py::module_::import("numpy");
  py::array array = np.attr("asarray")(value);
  py::dtype want = numpyDType(info.dtype);
  auto shapeText = [&]() {
    std::vector<int64_t> shape(array.shape(), array.shape() + array.ndim());
    return rt::shapeToString(shape);
  };
  if (!np.attr("can_cast")(array.dtype(), want, "same_kind").cast<bool>())
    throw GaonError("input '" + info.name + "': expected " +
                    rt::dtypeName(info.dtype) + " " +
                    rt::shapeToString(info.shape) + ", got " +
                    py::str(array.dtype()).cast<std::string>() + " " +
                    shapeText() + " (which does not cast to it)");
  return np.attr("ascontiguousarray")(array, want);
}

// Fills `bytes` with the array's elements in the dtype's layout (bf16:
// rounded from the f32 array).
void copyElements(const TensorInfo &info, const py::array &array,
                  std::vector<uint8_t> &bytes) {
  size_t count = size_t(array.size());
  if (info.dtype == rt::DType::BF16) {
    bytes.resize(count * 2);
    const float *in = static_cast<const float *>(array.data());
    for (size_t i = 0; i < count; ++i) {
      uint16_t bits = rt::floatToBf16(in[i]);
      std::memcpy(bytes.data() + 2 * i, &bits, 2);
    }
    return;
  }
  const uint8_t *in = static_cast<const uint8_t *>(array.data());
  bytes.assign(in, in + array.nbytes());
}

// A NumPy array that owns `storage` (moved to the heap, freed with the
// array): the bytes the runtime read from the device, not copied again.
template <typename Storage>
py::array ownedArray(py::dtype dtype, const std::vector<int64_t> &shape,
                     Storage &&storage, const void *(*dataOf)(Storage &)) {
  auto *owned = new Storage(std::move(storage));
  py::capsule owner(owned, [](void *p) { delete static_cast<Storage *>(p); });
  std::vector<py::ssize_t> dims(shape.begin(), shape.end());
  return py::array(dtype, dims, dataOf(*owned), owner);
}

const void *vectorData(std::vector<uint8_t> &v) { return v.data(); }
const void *constantData(graph::ConstantTensor &t) { return t.bytes().data(); }

py::array outputArray(rt::HostTensor &&tensor) {
  if (tensor.dtype == rt::DType::BF16) {
    // NumPy has no bf16: widened to f32 (a conversion, hence a new buffer).
    std::vector<uint8_t> widened(tensor.elementCount() * 4);
    for (uint64_t i = 0; i < tensor.elementCount(); ++i) {
      uint16_t bits;
      std::memcpy(&bits, tensor.data.data() + 2 * i, 2);
      float value = rt::bf16ToFloat(bits);
      std::memcpy(widened.data() + 4 * i, &value, 4);
    }
    return ownedArray(py::dtype::of<float>(), tensor.shape, std::move(widened),
                      vectorData);
  }
  return ownedArray(numpyDType(tensor.dtype), tensor.shape,
                    std::move(tensor.data), vectorData);
}

py::object parseJson(const std::string &text) {
  return py::module_::import("json").attr("loads")(text);
}

//===----------------------------------------------------------------------===//
// Modules
//===----------------------------------------------------------------------===//

/// A compiled model ready to run: on a runtime device, or on the reference
/// interpreter.
class CompiledModule {
public:
  virtual ~CompiledModule() = default;
  virtual py::dict run(const py::dict &inputs) = 0;
  virtual py::dict report() const = 0;

  std::string target, name;
  std::vector<TensorInfo> inputs, outputs;

protected:
  // The inputs in the model's order, converted where needed; names that
  // are not inputs are errors (the runtime's messages).
  std::vector<std::pair<const TensorInfo *, py::array>>
  gather(const py::dict &given) const {
    for (auto item : given) {
      std::string key = py::str(item.first);
      bool known = false;
      for (const TensorInfo &info : inputs)
        known = known || info.name == key;
      if (!known)
        throw GaonError("'" + key + "' is not an input of the model");
    }
    std::vector<std::pair<const TensorInfo *, py::array>> arrays;
    for (const TensorInfo &info : inputs) {
      if (!given.contains(info.name))
        throw GaonError("missing input '" + info.name + "' (" +
                        rt::dtypeName(info.dtype) + " " +
                        rt::shapeToString(info.shape) + ")");
      py::array array = inputArray(info, given[py::str(info.name)]);
      std::vector<int64_t> shape(array.shape(), array.shape() + array.ndim());
      if (shape != info.shape)
        throw GaonError(
            "input '" + info.name + "': expected " + rt::dtypeName(info.dtype) +
            " " + rt::shapeToString(info.shape) + ", got " +
            rt::dtypeName(info.dtype) + " " + rt::shapeToString(shape));
      arrays.push_back({&info, array});
    }
    return arrays;
  }
};

class RuntimeModule : public CompiledModule {
public:
  std::shared_ptr<rt::Device> device;
  std::shared_ptr<const rt::Artifact> artifact;
  std::unique_ptr<rt::Module> module;
  rt::RunStats last;
  bool ran = false;

  py::dict run(const py::dict &given) override {
    std::vector<rt::HostTensor> tensors;
    for (auto &[info, array] : gather(given)) {
      rt::HostTensor tensor;
      tensor.name = info->name;
      tensor.dtype = info->dtype;
      tensor.shape = info->shape;
      copyElements(*info, array, tensor.data);
      tensors.push_back(std::move(tensor));
    }
    rt::Result<std::vector<rt::HostTensor>> result = [&] {
      py::gil_scoped_release release;
      return module->run(tensors, &last);
    }();
    if (!result.isOk())
      throw GaonError(result.status().message());
    ran = true;
    py::dict out;
    for (rt::HostTensor &tensor : result.value()) {
      std::string key = tensor.name;
      out[py::str(key)] = outputArray(std::move(tensor));
    }
    return out;
  }

  py::dict report() const override {
    py::dict r;
    r["target"] = target;
    r["model"] = name;
    r["driver"] = device->driverName();
    r["device"] = device->properties().name;
    if (!ran)
      return r;
    const rt::DeviceProperties &props = device->properties();
    r["wall_s"] = last.wallSeconds;
    // As gaon-bench: the device's own time (simulated on npu-sim, CUDA
    // events on cuda) when it reports one, else the host's wall clock.
    r["latency_s"] =
        last.counters.busyS > 0 ? last.counters.busyS : last.wallSeconds;
    r["dispatches"] = last.counters.dispatches;
    r["cycles"] = props.reportsCycles()
                      ? py::object(py::int_(last.counters.cycles))
                      : py::object(py::none());
    r["energy_j"] = props.reportsEnergy()
                        ? py::object(py::float_(last.counters.energyJ))
                        : py::object(py::none());
    r["busy_s"] = last.counters.busyS;
    std::string deviceReport = npu_sim_runtime::npuSimLastReportJson(*device);
    if (!deviceReport.empty())
      r["device_report"] = parseJson(deviceReport);
    return r;
  }
};

class ReferenceModule : public CompiledModule {
public:
  std::unique_ptr<mlir::MLIRContext> context;
  std::unique_ptr<tools::DiagnosticCollector> diagnostics;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  double wallSeconds = 0;
  bool ran = false;

  py::dict run(const py::dict &given) override {
    auto func = module->lookupSymbol<mlir::func::FuncOp>("main");
    llvm::SmallVector<graph::ConstantTensor> tensors;
    auto arrays = gather(given);
    for (size_t i = 0; i < arrays.size(); ++i) {
      std::vector<uint8_t> bytes;
      copyElements(*arrays[i].first, arrays[i].second, bytes);
      auto type =
          mlir::cast<mlir::RankedTensorType>(func.getArgumentTypes()[i]);
      auto tensor = graph::ConstantTensor::fromBytes(
          type, llvm::ArrayRef<char>(reinterpret_cast<char *>(bytes.data()),
                                     bytes.size()));
      if (!tensor)
        throw GaonError("input '" + arrays[i].first->name +
                        "': cannot hold its data");
      tensors.push_back(std::move(*tensor));
    }
    size_t before = diagnostics->text().size();
    auto start = std::chrono::steady_clock::now();
    auto results = reference::interpret(func, tensors);
    wallSeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (mlir::failed(results))
      throw GaonError(exceptionText(diagnostics->text().substr(before)));
    ran = true;
    py::dict out;
    for (size_t i = 0; i < results->size(); ++i) {
      const TensorInfo &info = outputs[i];
      graph::ConstantTensor &tensor = (*results)[i];
      if (info.dtype == rt::DType::BF16) {
        rt::HostTensor host{
            info.name, info.dtype, info.shape,
            std::vector<uint8_t>(tensor.bytes().begin(), tensor.bytes().end())};
        out[py::str(info.name)] = outputArray(std::move(host));
      } else {
        out[py::str(info.name)] = ownedArray(numpyDType(info.dtype), info.shape,
                                             std::move(tensor), constantData);
      }
    }
    return out;
  }

  py::dict report() const override {
    py::dict r;
    r["target"] = target;
    r["model"] = name;
    r["driver"] = "reference";
    r["device"] = "host (gaon.graph reference interpreter)";
    if (ran) {
      r["wall_s"] = wallSeconds;
      r["latency_s"] = wallSeconds;
      r["cycles"] = py::none();
      r["energy_j"] = py::none();
    }
    return r;
  }
};

//===----------------------------------------------------------------------===//
// compile / load / bench
//===----------------------------------------------------------------------===//

std::shared_ptr<rt::Device> createDevice(const std::string &target,
                                         rt::DeviceOptions options) {
  bench::registerBuiltinDrivers();
  npu_sim_runtime::addTargetDeviceOptions(target, options);
  auto device =
      rt::DriverRegistry::global().createDeviceForTarget(target, options);
  if (!device.isOk())
    throw GaonError(device.status().message());
  return device.value();
}

std::shared_ptr<CompiledModule>
loadArtifact(std::shared_ptr<const rt::Artifact> artifact,
             std::shared_ptr<rt::Device> device) {
  auto m = std::make_shared<RuntimeModule>();
  const rt::ModelDesc &model = artifact->model();
  auto loaded = rt::Module::load(device, artifact);
  if (!loaded.isOk())
    throw GaonError("loading '" + model.name +
                    "': " + loaded.status().message());
  m->target = model.target;
  m->name = model.name;
  for (uint32_t id : model.inputs) {
    const rt::TensorDesc &t = *model.findTensor(id);
    m->inputs.push_back({t.name, t.dtype, t.shape});
  }
  for (uint32_t id : model.outputs) {
    const rt::TensorDesc &t = *model.findTensor(id);
    m->outputs.push_back({t.name, t.dtype, t.shape});
  }
  m->device = std::move(device);
  m->artifact = std::move(artifact);
  m->module = std::move(loaded.value());
  return m;
}

std::shared_ptr<CompiledModule> pyLoad(const std::string &path,
                                       const rt::DeviceOptions &options) {
  auto artifact = rt::ArtifactReader::readFile(path);
  if (!artifact.isOk())
    throw GaonError(artifact.status().message());
  auto device = createDevice(artifact.value()->model().target, options);
  return loadArtifact(artifact.value(), device);
}

std::string temporaryArtifactPath() {
  const char *base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base && *base ? base : "/tmp") + "/gaon-py-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  int fd = mkstemp(buffer.data());
  if (fd < 0)
    throw GaonError("cannot create a temporary file for the artifact");
  close(fd);
  return buffer.data();
}

std::shared_ptr<CompiledModule>
pyCompile(const std::string &path, const std::string &target,
          const std::vector<std::string> &inputShapes, const std::string &dtype,
          const rt::DeviceOptions &deviceOptions, const std::string &output) {
  if (std::string error = tools::checkDType(dtype); !error.empty())
    throw py::value_error(error);
  bool reference = target == "reference";
  tools::TargetSpec spec;
  if (!reference) {
    if (std::string error = tools::parseTarget(target, spec); !error.empty())
      throw py::value_error(error);
    if (std::string error = tools::checkTargetDType(spec, dtype);
        !error.empty())
      throw py::value_error(error);
  }
  // A device first: a target that cannot run here fails before the compile.
  std::shared_ptr<rt::Device> device;
  if (!reference)
    device = createDevice(spec.target, deviceOptions);

  tools::ProgressLine progress;
  tools::CompileOptions options;
  options.modelPath = path;
  options.dtype = dtype;
  options.inputShapes = inputShapes;
  options.progress = &progress;
  auto context = tools::createCompilerContext();
  auto diagnostics =
      std::make_unique<tools::DiagnosticCollector>(*context, false);
  mlir::OwningOpRef<mlir::ModuleOp> module;
  bool ok;
  {
    py::gil_scoped_release release;
    module = tools::importModel(*context, options);
    ok = module && mlir::succeeded(tools::runPasses(
                       *module,
                       [&](mlir::OpPassManager &pm) {
                         tools::buildGraphPipeline(pm, dtype);
                         if (!reference)
                           tools::buildTargetPipeline(pm, spec);
                       },
                       &progress));
  }
  if (!ok)
    throw GaonError(exceptionText(diagnostics->errorText()));

  if (reference) {
    auto m = std::make_shared<ReferenceModule>();
    m->target = "reference";
    m->name = tools::modelNameFor(path);
    auto func = module->lookupSymbol<mlir::func::FuncOp>("main");
    auto info = [&](mlir::Type type, mlir::StringAttr nameAttr,
                    const std::string &fallback) {
      auto tensor = mlir::cast<mlir::RankedTensorType>(type);
      auto dtype = gaon::graph::runtimeDType(tensor.getElementType());
      if (!dtype)
        throw GaonError("the reference target cannot exchange " + fallback +
                        " of this element type with NumPy");
      return TensorInfo{nameAttr ? nameAttr.getValue().str() : fallback, *dtype,
                        std::vector<int64_t>(tensor.getShape().begin(),
                                             tensor.getShape().end())};
    };
    for (unsigned i = 0; i < func.getNumArguments(); ++i)
      m->inputs.push_back(
          info(func.getArgumentTypes()[i],
               func.getArgAttrOfType<mlir::StringAttr>(i, "gaon.name"),
               "input_" + std::to_string(i)));
    for (unsigned i = 0; i < func.getNumResults(); ++i)
      m->outputs.push_back(
          info(func.getResultTypes()[i],
               func.getResultAttrOfType<mlir::StringAttr>(i, "gaon.name"),
               "output_" + std::to_string(i)));
    m->context = std::move(context);
    m->diagnostics = std::move(diagnostics);
    m->module = std::move(module);
    return m;
  }

  std::string artifactPath = output.empty() ? temporaryArtifactPath() : output;
  {
    py::gil_scoped_release release;
    progress.set("emitting the artifact");
    ok = mlir::succeeded(tools::emitArtifact(*module, spec, artifactPath,
                                             tools::modelNameFor(path)));
    progress.clear();
  }
  module = nullptr;
  if (!ok) {
    if (output.empty())
      std::remove(artifactPath.c_str());
    throw GaonError(exceptionText(diagnostics->errorText()));
  }
  auto artifact = rt::ArtifactReader::readFile(artifactPath);
  // The weights stay mapped after the file's name is gone.
  if (output.empty())
    std::remove(artifactPath.c_str());
  if (!artifact.isOk())
    throw GaonError(artifact.status().message());
  return loadArtifact(artifact.value(), device);
}

py::object pyBench(const std::string &path,
                   const std::vector<std::string> &targets,
                   const std::vector<std::string> &inputShapes,
                   const std::string &dtype, int iterations, int warmup,
                   const std::string &mode, bool breakdown, uint64_t seed,
                   const std::vector<std::string> &inputFiles,
                   const std::string &jsonPath, const std::string &htmlPath) {
  bench::BenchOptions options;
  options.modelPath = path;
  options.targets = targets;
  options.inputShapes = inputShapes;
  options.inputFiles = inputFiles;
  options.dtype = dtype;
  options.iterations = iterations;
  options.warmup = warmup;
  options.breakdown = breakdown;
  options.seed = seed;
  if (mode == "functional")
    options.simMode = bench::SimMode::Functional;
  else if (mode == "timing-only")
    options.simMode = bench::SimMode::TimingOnly;
  else if (mode != "auto")
    throw py::value_error("mode must be 'auto', 'functional' or "
                          "'timing-only', got '" +
                          mode + "'");
  if (std::string error = bench::validateOptions(options); !error.empty())
    throw py::value_error(error);
  tools::ProgressLine progress;
  options.progress = &progress;
  bench::BenchResult result;
  {
    py::gil_scoped_release release;
    result = bench::runBench(options);
  }
  if (!result.error.empty())
    throw GaonError(exceptionText(result.error));
  auto write = [](const std::string &file, const std::string &text) {
    rt::Status status = rt::writeFileAtomically(
        file, std::vector<uint8_t>(text.begin(), text.end()));
    if (!status.isOk())
      throw GaonError(status.message());
  };
  if (!jsonPath.empty())
    write(jsonPath, result.report.dump(2) + "\n");
  if (!htmlPath.empty())
    write(htmlPath, bench::renderHtml(result.report));
  return parseJson(result.report.dump());
}

nlohmann::json toJson(const py::object &report) {
  std::string text =
      py::module_::import("json").attr("dumps")(report).cast<std::string>();
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object() ||
      !parsed.contains("targets"))
    throw py::value_error("not a gaon-bench report (no 'targets')");
  return parsed;
}

} // namespace

PYBIND11_MODULE(_gaon, m) {
  m.doc() = "Gaon compiler and runtime (native part; use the gaon package)";
  py::register_exception<GaonError>(m, "GaonError", PyExc_RuntimeError);

  py::class_<CompiledModule, std::shared_ptr<CompiledModule>>(m, "Module")
      .def("run", &CompiledModule::run, py::arg("inputs"))
      .def("report", &CompiledModule::report)
      .def_readonly("target", &CompiledModule::target)
      .def_readonly("name", &CompiledModule::name)
      .def_property_readonly("inputs",
                             [](const CompiledModule &self) {
                               py::list list;
                               for (const TensorInfo &info : self.inputs)
                                 list.append(describe(info));
                               return list;
                             })
      .def_property_readonly("outputs", [](const CompiledModule &self) {
        py::list list;
        for (const TensorInfo &info : self.outputs)
          list.append(describe(info));
        return list;
      });

  m.def("compile", &pyCompile, py::arg("path"), py::arg("target"),
        py::arg("input_shapes"), py::arg("dtype"), py::arg("device_options"),
        py::arg("output"));
  m.def("load", &pyLoad, py::arg("path"), py::arg("device_options"));
  m.def("bench", &pyBench, py::arg("path"), py::arg("targets"),
        py::arg("input_shapes"), py::arg("dtype"), py::arg("iterations"),
        py::arg("warmup"), py::arg("mode"), py::arg("breakdown"),
        py::arg("seed"), py::arg("input_files"), py::arg("json_path"),
        py::arg("html_path"));
  m.def("bench_table", [](const py::object &report) {
    return bench::formatTable(toJson(report));
  });
  m.def("bench_html", [](const py::object &report) {
    return bench::renderHtml(toJson(report));
  });
  m.def("available_targets",
        [] { return "reference, " + tools::availableTargets(); });
  m.def("bench_targets", &bench::knownTargets);
}
