# Warnings are on for everything we write; third-party headers come in as SYSTEM.
function(supra_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wformat=2)
  # GCC 12 reports false overlaps inside std::string concatenation (GCC bug 105329), which
  # would otherwise fire on ordinary `"x" + std::to_string(n)`.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
endfunction()
