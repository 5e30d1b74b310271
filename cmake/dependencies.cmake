# Every outside dependency comes from a Debian 12 package (scripts/install-deps.sh installs them
# all). A missing one stops the configure step at once with the package to install, instead of a
# trace from deep inside another package's CMake config.
set(SUPRA_INSTALL_HINT "scripts/install-deps.sh installs every package supra needs")

# supra_require(<find_package arguments> DEBIAN <package>)
macro(supra_require name)
  cmake_parse_arguments(SUPRA_REQ "" "DEBIAN" "" ${ARGN})
  find_package(${name} ${SUPRA_REQ_UNPARSED_ARGUMENTS} QUIET)
  if(NOT ${name}_FOUND)
    message(FATAL_ERROR "${name} was not found: install the Debian package ${SUPRA_REQ_DEBIAN} (${SUPRA_INSTALL_HINT})")
  endif()
endmacro()

# supra_require_pkg_config(<prefix> <module> DEBIAN <package> [GLOBAL]): an IMPORTED_TARGET
# PkgConfig::<prefix> for a library that ships a pkg-config file but no CMake config.
macro(supra_require_pkg_config prefix module)
  cmake_parse_arguments(SUPRA_REQ "GLOBAL" "DEBIAN" "" ${ARGN})
  if(SUPRA_REQ_GLOBAL)
    pkg_check_modules(${prefix} QUIET IMPORTED_TARGET GLOBAL ${module})
  else()
    pkg_check_modules(${prefix} QUIET IMPORTED_TARGET ${module})
  endif()
  if(NOT ${prefix}_FOUND)
    message(FATAL_ERROR "${module} was not found: install the Debian package ${SUPRA_REQ_DEBIAN} (${SUPRA_INSTALL_HINT})")
  endif()
endmacro()

find_package(PkgConfig QUIET)
if(NOT PkgConfig_FOUND)
  message(FATAL_ERROR "pkg-config was not found: install the Debian package pkg-config (${SUPRA_INSTALL_HINT})")
endif()
supra_require(OpenMP DEBIAN "libgomp1 (with g++) or libomp-14-dev (with clang)")
supra_require(nlohmann_json 3.10 DEBIAN nlohmann-json3-dev)
supra_require(CLI11 DEBIAN libcli11-dev)
supra_require(BZip2 DEBIAN libbz2-dev)                     # HellaSwag's .bz2 data
supra_require(PNG DEBIAN libpng-dev)                       # loss curves of `supra train`
supra_require(Threads DEBIAN libc6-dev)
supra_require_pkg_config(SENTENCEPIECE sentencepiece DEBIAN libsentencepiece-dev)
supra_require_pkg_config(HWY libhwy DEBIAN libhwy-dev)     # SIMD kernels, dispatched per CPU
supra_require_pkg_config(CPP_HTTPLIB cpp-httplib DEBIAN libcpp-httplib-dev GLOBAL)  # the HTTP server
# oneDNN (the prefill GEMM): Debian's build has an OpenCL GPU runtime, so its CMake config
# requires OpenCL's development files, which libdnnl-dev only recommends.
supra_require(OpenCL DEBIAN ocl-icd-opencl-dev)
supra_require(dnnl DEBIAN libdnnl-dev)

# Data-parallel training over MPI (Open MPI); without it `supra train` runs on one process.
# The C API from C++: the deprecated MPI C++ bindings stay out (MPI_CXX_SKIP_MPICXX).
set(MPI_CXX_SKIP_MPICXX ON)
find_package(MPI COMPONENTS CXX QUIET)
option(SUPRA_MPI "Build distributed data-parallel training over MPI" ${MPI_CXX_FOUND})
if(SUPRA_MPI AND NOT MPI_CXX_FOUND)
  message(FATAL_ERROR "SUPRA_MPI is ON but MPI was not found: install the Debian packages libopenmpi-dev openmpi-bin (${SUPRA_INSTALL_HINT})")
endif()
