# Finds OpenBLAS, preferring Debian's OpenMP build (libopenblas-openmp-dev): inside our own OpenMP
# parallel regions it runs single-threaded, outside them it uses the same OpenMP thread pool, so the
# two never oversubscribe the cores. Defines the imported target digits::blas.
set(_blas_arch ${CMAKE_LIBRARY_ARCHITECTURE})
find_library(DIGITS_OPENBLAS_LIBRARY
  NAMES openblas
  PATHS /usr/lib/${_blas_arch}/openblas-openmp /usr/lib/${_blas_arch}/openblas-pthread
  NO_DEFAULT_PATH)
if(NOT DIGITS_OPENBLAS_LIBRARY)
  find_library(DIGITS_OPENBLAS_LIBRARY NAMES openblas)
endif()
find_path(DIGITS_OPENBLAS_INCLUDE_DIR cblas.h
  PATHS /usr/include/${_blas_arch}/openblas-openmp /usr/include/${_blas_arch}/openblas-pthread /usr/include/openblas
  NO_DEFAULT_PATH)
if(NOT DIGITS_OPENBLAS_INCLUDE_DIR)
  find_path(DIGITS_OPENBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas)
endif()
if(NOT DIGITS_OPENBLAS_LIBRARY OR NOT DIGITS_OPENBLAS_INCLUDE_DIR)
  message(FATAL_ERROR "digits: OpenBLAS not found: run scripts/setup.sh or install libopenblas-openmp-dev")
endif()
add_library(digits::blas INTERFACE IMPORTED)
set_target_properties(digits::blas PROPERTIES
  INTERFACE_LINK_LIBRARIES "${DIGITS_OPENBLAS_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${DIGITS_OPENBLAS_INCLUDE_DIR}")
if(DIGITS_OPENBLAS_LIBRARY MATCHES "openmp")
  set(DIGITS_BLAS_NAME "OpenBLAS-OpenMP")
else()
  set(DIGITS_BLAS_NAME "OpenBLAS")
endif()
