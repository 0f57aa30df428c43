# fcpmail_area(NAME [SOURCES file...] [DEPS [PUBLIC|PRIVATE] dep...])
#
# Declares src/<NAME>/ as the library fcpmail_<NAME>: a static library of its .cpp files (found
# recursively, main.cpp excluded; SOURCES replaces that list), or an INTERFACE library when the
# area has no .cpp (a header-only area such as mail/).
#
# DEPS names what the area's own files include: another area by its name (crypto, store, ...) or
# any other CMake target (fcp, Boost::headers, PkgConfig::CRYPTOPP, ...). A dependency is PRIVATE
# unless it follows the word PUBLIC, which is meant only for a dependency that the area's public
# headers include (so everyone including those headers needs it too). Every area depends
# PUBLIC on mail/ (the header-only area at the very bottom, usable by all) without saying so.
#
# How the layer rule is enforced. Includes are written "area/file.h" relative to src/, so src/
# itself can not be an include directory: it would make every area visible to every other. Instead
# each area gets a generated directory of its own, ${CMAKE_BINARY_DIR}/area_include/<NAME>/, that
# holds exactly one entry: a symbolic link <NAME> -> src/<NAME>. That directory is the area's
# include directory, passed on to whoever links the area, PRIVATE or PUBLIC as declared. So the
# compiler, building a file of area A, sees "B/x.h" only if A declared B (or an area A declared
# PUBLIC passes B on through its public headers), and an include across the layers (say
# "engine/engine.h" in a freemail file) fails: "engine/engine.h: No such file or directory".
# The areas are declared lowest layer first, so a DEPS entry pointing up (to an area not declared
# yet) is an error at configure time: the graph of areas can have no cycle.
function(fcpmail_area name)
  cmake_parse_arguments(PARSE_ARGV 1 area "" "" "SOURCES;DEPS")
  if(area_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "fcpmail_area(${name}): unknown arguments ${area_UNPARSED_ARGUMENTS}")
  endif()
  set(area_dir ${PROJECT_SOURCE_DIR}/src/${name})
  set(target fcpmail_${name})

  if(NOT DEFINED area_SOURCES)
    file(GLOB_RECURSE area_SOURCES CONFIGURE_DEPENDS ${area_dir}/*.cpp)
    list(FILTER area_SOURCES EXCLUDE REGEX "^${area_dir}/main\\.cpp$")
  endif()

  # The include tree: area_include/<name>/<name> -> src/<name> (see above).
  set(include_root ${CMAKE_BINARY_DIR}/area_include/${name})
  file(MAKE_DIRECTORY ${include_root})
  if(NOT IS_SYMLINK ${include_root}/${name})
    file(CREATE_LINK ${area_dir} ${include_root}/${name} SYMBOLIC)
  endif()

  if(area_SOURCES)
    add_library(${target} STATIC ${area_SOURCES})
    target_include_directories(${target} PUBLIC ${include_root})
    set(default_scope PRIVATE)
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${include_root})
    # A header-only area has no compile of its own: everything it depends on is for its users.
    set(default_scope INTERFACE)
  endif()

  set(scope ${default_scope})
  foreach(dep IN LISTS area_DEPS)
    if(dep STREQUAL "PUBLIC" OR dep STREQUAL "PRIVATE")
      if(default_scope STREQUAL "INTERFACE")
        set(scope INTERFACE)
      else()
        set(scope ${dep})
      endif()
      continue()
    endif()
    if(TARGET fcpmail_${dep})
      target_link_libraries(${target} ${scope} fcpmail_${dep})
    elseif(IS_DIRECTORY ${PROJECT_SOURCE_DIR}/src/${dep})
      message(FATAL_ERROR "fcpmail_area(${name}): area ${dep} is declared after ${name}; "
                          "declare the areas lowest layer first")
    elseif(TARGET ${dep})
      target_link_libraries(${target} ${scope} ${dep})
    else()
      message(FATAL_ERROR "fcpmail_area(${name}): ${dep} is neither an area nor a target")
    endif()
  endforeach()

  if(NOT name STREQUAL "mail")
    if(default_scope STREQUAL "INTERFACE")
      target_link_libraries(${target} INTERFACE fcpmail_mail)
    else()
      target_link_libraries(${target} PUBLIC fcpmail_mail)
    endif()
  endif()
endfunction()
