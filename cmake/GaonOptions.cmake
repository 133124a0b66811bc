# Toolchain choices shared by every component.

# lld links MLIR tools ~6x faster than GNU ld (see ../shared/build-notes.md).
find_program(GAON_LLD ld.lld)
if(GAON_LLD AND NOT GAON_NO_LLD)
  add_link_options("-fuse-ld=lld")
endif()

find_program(GAON_CCACHE ccache)
if(GAON_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER ${GAON_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${GAON_CCACHE})
endif()

# CUDA: detect the toolkit (headers and libraries only; no GPU is needed to build).
if(GAON_ENABLE_CUDA STREQUAL "AUTO")
  find_package(CUDAToolkit QUIET)
  set(GAON_HAVE_CUDA ${CUDAToolkit_FOUND})
elseif(GAON_ENABLE_CUDA)
  find_package(CUDAToolkit REQUIRED)
  set(GAON_HAVE_CUDA ON)
else()
  set(GAON_HAVE_CUDA OFF)
endif()
message(STATUS "Gaon: CUDA backend ${GAON_HAVE_CUDA}, compiler ${GAON_ENABLE_COMPILER}")
