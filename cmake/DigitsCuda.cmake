# Optional CUDA: find nvcc (PATH, CUDA_HOME, CUDA_PATH, /usr/local/cuda), default the architectures to an
# explicit list (SASS for sm_75..sm_120 + compute_120 PTX; `native` fails on GPU-less machines), enable CUDA, find the
# toolkit and cuDNN (system, CUDA_HOME, or the nvidia-cudnn-cu13 Python wheel). Sets DIGITS_CUDA_ENABLED.
set(DIGITS_CUDA_ENABLED OFF)
string(TOUPPER "${DIGITS_WITH_CUDA}" _cuda_mode)

macro(_digits_cuda_skip why)
  if(_cuda_mode STREQUAL "ON")
    message(FATAL_ERROR "digits: DIGITS_WITH_CUDA=ON but ${why}")
  endif()
  message(STATUS "digits: CUDA backend skipped: ${why}")
  return()
endmacro()

if(_cuda_mode STREQUAL "OFF")
  message(STATUS "digits: CUDA backend disabled (DIGITS_WITH_CUDA=OFF)")
  return()
endif()

if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX})
  find_program(_digits_nvcc nvcc
    HINTS ENV CUDA_HOME ENV CUDA_PATH
    PATHS /usr/local/cuda /opt/cuda /usr/local/cuda-13.0 /usr/local/cuda-13
    PATH_SUFFIXES bin)
  if(_digits_nvcc)
    set(CMAKE_CUDA_COMPILER "${_digits_nvcc}" CACHE FILEPATH "nvcc")
  endif()
endif()

include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  _digits_cuda_skip("no nvcc found (PATH, CUDA_HOME, /usr/local/cuda)")
endif()

# The architectures: every GPU CUDA 13 supports gets real code (SASS), the newest also PTX that newer
# GPUs' drivers JIT-compile: 75 T4, RTX 20xx | 80 A100, A30 | 86 RTX 30xx, A10, A40 | 89 L4, L40, RTX 40xx
# | 90 H100, H200 | 100 B200, GB200 | 120 RTX 50xx, RTX PRO 6000. A developer (or CI) builds one with
# -DCMAKE_CUDA_ARCHITECTURES=90-real (nvcc time 74 s instead of 330 s on 2 cores; README "GPUs").
set(DIGITS_CUDA_ARCHS_ALL "75-real;80-real;86-real;89-real;90-real;100-real;120-real;120-virtual")
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "")
  set(CMAKE_CUDA_ARCHITECTURES "${DIGITS_CUDA_ARCHS_ALL}" CACHE STRING "CUDA architectures (default: all that CUDA 13 supports)")
endif()
enable_language(CUDA)
# CMake 3.25 knows no C++20 flag for nvcc (it does from 3.26 on); nvcc >= 12 accepts -std=c++20.
if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION AND CMAKE_CUDA_COMPILER_VERSION VERSION_GREATER_EQUAL 12.0)
  set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
endif()
set(CMAKE_CUDA_STANDARD 20)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
find_package(CUDAToolkit QUIET)
if(NOT CUDAToolkit_FOUND)
  _digits_cuda_skip("nvcc found but the CUDA toolkit libraries were not")
endif()

# cuDNN: system or toolkit first, then the Python wheel (site-packages/nvidia/cudnn), which ships only libcudnn.so.9.
set(_cudnn_hints ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT} $ENV{CUDNN_ROOT} $ENV{CUDA_HOME})
set(_cudnn_inc_hints ${CUDAToolkit_INCLUDE_DIRS} $ENV{CUDNN_ROOT}/include $ENV{CUDA_HOME}/include)
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)
  execute_process(COMMAND ${Python3_EXECUTABLE} -c
    "import importlib.util as u; s=u.find_spec('nvidia.cudnn'); print(list(s.submodule_search_locations)[0] if s else '')"
    OUTPUT_VARIABLE _cudnn_wheel OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(_cudnn_wheel)
    list(APPEND _cudnn_hints ${_cudnn_wheel}/lib)
    list(APPEND _cudnn_inc_hints ${_cudnn_wheel}/include)
  endif()
endif()
find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${_cudnn_inc_hints})
find_library(CUDNN_LIBRARY NAMES cudnn libcudnn.so.9 HINTS ${_cudnn_hints} PATH_SUFFIXES lib lib64)
if(NOT CUDNN_INCLUDE_DIR OR NOT CUDNN_LIBRARY)
  _digits_cuda_skip("cuDNN 9 not found (set CUDNN_ROOT, or install nvidia-cudnn-cu13)")
endif()
add_library(digits::cudnn SHARED IMPORTED)
set_target_properties(digits::cudnn PROPERTIES
  IMPORTED_LOCATION "${CUDNN_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${CUDNN_INCLUDE_DIR}")
get_filename_component(DIGITS_CUDNN_LIBDIR "${CUDNN_LIBRARY}" DIRECTORY)

set(DIGITS_CUDA_ENABLED ON)
message(STATUS "digits: CUDA backend: nvcc ${CMAKE_CUDA_COMPILER_VERSION}, archs ${CMAKE_CUDA_ARCHITECTURES}, cuDNN ${CUDNN_LIBRARY}")
