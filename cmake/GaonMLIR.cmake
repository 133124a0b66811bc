# Finds MLIR/LLVM 22 and sets up TableGen and lit for the compiler parts.
find_package(MLIR REQUIRED CONFIG)
message(STATUS "Using MLIRConfig.cmake in: ${MLIR_DIR}")

set(LLVM_RUNTIME_OUTPUT_INTDIR ${CMAKE_BINARY_DIR}/bin)
set(LLVM_LIBRARY_OUTPUT_INTDIR ${CMAKE_BINARY_DIR}/lib)
set(MLIR_BINARY_DIR ${CMAKE_BINARY_DIR})

list(APPEND CMAKE_MODULE_PATH "${MLIR_CMAKE_DIR}" "${LLVM_CMAKE_DIR}")
include(TableGen)
include(AddLLVM)
include(AddMLIR)
include(HandleLLVMOptions)

include_directories(SYSTEM ${LLVM_INCLUDE_DIRS} ${MLIR_INCLUDE_DIRS})
# LLVM_DEFINITIONS is one string; splitting it avoids a broken
# -D_GLIBCXX_USE_CXX11_ABI="1 -D..." (see build-notes.md).
separate_arguments(GAON_LLVM_DEFINITIONS NATIVE_COMMAND ${LLVM_DEFINITIONS})
add_definitions(${GAON_LLVM_DEFINITIONS})
link_directories(${LLVM_BUILD_LIBRARY_DIR})

# Generated headers of the dialects and passes.
include_directories(${CMAKE_SOURCE_DIR}/dialects/include
                    ${CMAKE_BINARY_DIR}/dialects/include
                    ${CMAKE_SOURCE_DIR}/compiler/include
                    ${CMAKE_BINARY_DIR}/compiler/include)
