# Warnings are on for everything we write; third-party headers come in as SYSTEM.
function(supra_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
-Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
    -Wformat=2)
endfunction()
