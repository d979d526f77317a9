# chat_add_plugin(<name> SOURCES <files...> [LIBRARIES <targets...>] [OUTPUT_DIR <dir>] [NO_INSTALL])
#
# Builds <name>.so, a plugin the host loads by that name from its plugin
# directory. The plugin sees the host API (chathost::api) and nothing of the
# host's internals.
function(chat_add_plugin name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "NO_INSTALL" "OUTPUT_DIR" "SOURCES;LIBRARIES")
  if(NOT arg_SOURCES)
    message(FATAL_ERROR "chat_add_plugin(${name}): SOURCES is required")
  endif()
  if(NOT arg_OUTPUT_DIR)
    set(arg_OUTPUT_DIR "${CHATHOST_PLUGIN_OUTPUT_DIR}")
  endif()

  set(target "plugin-${name}")
  add_library(${target} MODULE ${arg_SOURCES})
  target_link_libraries(${target} PRIVATE chathost::api chat_options ${arg_LIBRARIES})
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME "${name}"
    PREFIX ""
    LIBRARY_OUTPUT_DIRECTORY "${arg_OUTPUT_DIR}"
    # Installed plugins find chat_proto in the host's lib/ directory.
    INSTALL_RPATH "$ORIGIN/../..")
  # A plugin must resolve every symbol it needs at link time, not at load time.
  target_link_options(${target} PRIVATE -Wl,--no-undefined)
  if(NOT arg_NO_INSTALL)
    install(TARGETS ${target} LIBRARY DESTINATION "${CHATHOST_PLUGIN_SUBDIR}")
    add_dependencies(runtime ${target})
  endif()
endfunction()
