# chat_add_plugin(<name> SOURCES <files...> [LIBRARIES <targets...>] [OUTPUT_DIR <dir>] [NO_INSTALL])
#
# A shipped plugin: chathost_add_plugin (the SDK's, chathostAddPlugin.cmake,
# so shipped and outside plugins never differ) as target plugin-<name>,
# built into the plugin folder of the build tree with our warnings and
# sanitizers, and installed into the host's own plugin folder.
set(CHATHOST_CMAKE_DIR "${CMAKE_CURRENT_LIST_DIR}")
# Installed plugins find chat_proto in the host's lib/ folder.
set(CHATHOST_PLUGIN_RPATH "$ORIGIN/../..")
include("${CMAKE_CURRENT_LIST_DIR}/chathostAddPlugin.cmake")

function(chat_add_plugin name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "NO_INSTALL" "OUTPUT_DIR" "SOURCES;LIBRARIES")
  if(NOT arg_SOURCES)
    message(FATAL_ERROR "chat_add_plugin(${name}): SOURCES is required")
  endif()
  if(NOT arg_OUTPUT_DIR)
    set(arg_OUTPUT_DIR "${CHATHOST_PLUGIN_OUTPUT_DIR}")
  endif()
  set(target "plugin-${name}")
  chathost_add_plugin(${name} TARGET ${target} SOURCES ${arg_SOURCES} OUTPUT_DIR "${arg_OUTPUT_DIR}"
                      LIBRARIES chat_options ${arg_LIBRARIES})
  if(NOT arg_NO_INSTALL)
    install(TARGETS ${target} LIBRARY DESTINATION "${CHATHOST_PLUGIN_SUBDIR}")
    add_dependencies(runtime ${target})
  endif()
endfunction()

# chat_add_plugin_core(<target> SOURCES <files...> [LIBRARIES <targets...>] [PRIVATE_LIBRARIES <targets...>])
#
# Everything of a plugin but its entry point, as a static library that the
# plugin and the tests link, so tests can drive its parts directly. Its
# headers are included by name from the plugin's folder; LIBRARIES are
# linked publicly, PRIVATE_LIBRARIES, our options and the TSan annotations
# privately.
function(chat_add_plugin_core target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SOURCES;LIBRARIES;PRIVATE_LIBRARIES")
  add_library(${target} STATIC ${arg_SOURCES})
  target_include_directories(${target} PUBLIC "${CMAKE_CURRENT_SOURCE_DIR}")
  target_link_libraries(${target} PUBLIC ${arg_LIBRARIES} PRIVATE ${arg_PRIVATE_LIBRARIES} chat_options chat_tsan)
endfunction()

# chat_plugin_pch: builds the precompiled header of the Beast/gRPC plugins
# (cmake/plugin_pch.hpp) once for every target that shares it (see
# chat_use_plugin_pch). Made here, in the top directory, so that its build
# statement comes first and Ninja starts it as soon as the generated
# protocol headers exist, not after everything declared before the plugins.
add_library(chat_plugin_pch OBJECT "${CHATHOST_CMAKE_DIR}/plugin_pch.cpp")
# What the plugins and their core libraries link, for the same definitions.
target_link_libraries(chat_plugin_pch PRIVATE
  chathost::api chathost::proto Boost::json Threads::Threads chat_options)
target_precompile_headers(chat_plugin_pch PRIVATE "${CHATHOST_CMAKE_DIR}/plugin_pch.hpp")

# chat_use_plugin_pch(<target>...)
#
# Compiles the targets with the plugins' precompiled header. It only serves
# files compiled with the same options: give these targets no compile
# definitions or options of their own (GCC's -Winvalid-pch, an error with
# -Werror, says when one does not fit).
function(chat_use_plugin_pch)
  foreach(target IN LISTS ARGN)
    target_precompile_headers(${target} REUSE_FROM chat_plugin_pch)
  endforeach()
endfunction()
