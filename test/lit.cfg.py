# -*- Python -*-
# lit configuration for Gaon's FileCheck tests.

import os

import lit.formats
from lit.llvm import llvm_config

config.name = "Gaon"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
# .mlir: dialect and pass tests; .onnxtxt: importer tests whose ONNX models
# are written in ONNX's text syntax; .test: tool tests on real models.
config.suffixes = [".mlir", ".onnxtxt", ".test"]
config.excludes = ["Inputs", "lib", "models", "unittests", "CMakeLists.txt", "lit.cfg.py",
                   "lit.site.cfg.py.in"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.gaon_obj_root, "test")

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.gaon_tools_dir, append_path=True)

config.substitutions.append(("%python", config.python_executable))
config.substitutions.append(
    ("%onnx-cases", config.python_executable + " " +
     os.path.join(config.test_source_root, "lib", "onnx_cases.py")))
config.substitutions.append(("%shared_models", config.shared_models_dir))
# More transformer families, exported by test/models/make_zoo.py.
config.substitutions.append(
    ("%zoo_models", os.path.join(config.test_source_root, "models", "zoo")))
# Quantized exports of zoo models (test/models/make_quantized.py).
config.substitutions.append(
    ("%quantized_models",
     os.path.join(config.test_source_root, "models", "quantized")))

if os.path.isdir(config.shared_models_dir):
    config.available_features.add("shared-models")

if os.path.isdir("/usr/share/libonnx-testdata/data/node"):
    config.available_features.add("onnx-testdata")

# The CUDA compiler is built where the CUDA toolkit is found; ptxas checks
# the PTX it generates without a GPU.
if config.gaon_cuda_compiler:
    config.available_features.add("cuda-compiler")
if config.ptxas and os.path.exists(config.ptxas):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", config.ptxas))
