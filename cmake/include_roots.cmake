# Per-library include roots: each engine library compiles against a folder of its own that
# holds (as links to src/) only its own folder and those of the libraries it links, directly or
# through others. An include of a library above it ("serve/..." from model) then fails to build
# instead of holding by convention. The public headers (include/supra) are everyone's;
# scripts/check-layering.sh checks which library may include which of them.
function(supra_include_roots)
  set(libraries ${ARGN})
  foreach(lib IN LISTS libraries)
    # The libraries `lib` links, transitively, and itself.
    set(closure "")
    set(todo ${lib})
    while(todo)
      list(POP_FRONT todo current)
      if(current IN_LIST closure)
        continue()
      endif()
      list(APPEND closure ${current})
      get_target_property(links ${current} LINK_LIBRARIES)
      foreach(link IN LISTS links)
        if(link IN_LIST libraries)
          list(APPEND todo ${link})
        endif()
      endforeach()
    endwhile()
    set(root ${CMAKE_BINARY_DIR}/include-roots/${lib})
    file(REMOVE_RECURSE ${root})
    file(MAKE_DIRECTORY ${root})
    foreach(member IN LISTS closure)
      string(REGEX REPLACE "^supra_" "" folder ${member})
      file(CREATE_LINK ${PROJECT_SOURCE_DIR}/src/${folder} ${root}/${folder} SYMBOLIC)
    endforeach()
    target_include_directories(${lib} PRIVATE ${root})
  endforeach()
endfunction()
