# chathost_add_plugin(<name> <source>... [LIBRARIES <target>...] [TARGET <target>] [OUTPUT_DIR <dir>])
#
# Builds <name>.so, a plugin chat-host loads by that name, with what every
# plugin needs to load and to keep to its own symbols:
#   - C++20, position-independent, no "lib" prefix;
#   - hidden visibility: the library exports its factory and API version
#     (CHATHOST_PLUGIN) and nothing else that could clash with the host's;
#   - chathost::api linked (the plugin header, Boost, spdlog and their defines);
#   - every symbol resolved at link time (-Wl,--no-undefined), so a missing
#     library is a link error, not a load error in production;
#   - an RPATH that finds libchat_proto.so where the host's is
#     (CHATHOST_PLUGIN_RPATH).
# LIBRARIES are linked privately, e.g. chathost::proto to call the chat
# service. The target is <name> unless TARGET names another. Shipped plugins
# and plugins built against an installed chat-host both come from here.
include_guard(GLOBAL)

function(chathost_add_plugin name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "TARGET;OUTPUT_DIR" "SOURCES;LIBRARIES")
  set(sources ${arg_UNPARSED_ARGUMENTS} ${arg_SOURCES})
  if(NOT sources)
    message(FATAL_ERROR "chathost_add_plugin(${name}): no source files")
  endif()
  if(NOT name MATCHES "^[a-z0-9_-]+$" OR name MATCHES "^.{65}")
    message(FATAL_ERROR "chathost_add_plugin(${name}): a plugin name is 1 to 64 lowercase letters, digits, '-' and '_'")
  endif()
  set(target "${name}")
  if(arg_TARGET)
    set(target "${arg_TARGET}")
  endif()

  add_library(${target} MODULE ${sources})
  target_compile_features(${target} PRIVATE cxx_std_20)
  target_link_libraries(${target} PRIVATE chathost::api ${arg_LIBRARIES})
  target_link_options(${target} PRIVATE -Wl,--no-undefined)
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME "${name}"
    PREFIX ""
    SUFFIX ".so"
    CXX_EXTENSIONS OFF
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON
    INSTALL_RPATH "${CHATHOST_PLUGIN_RPATH}")
  if(arg_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${arg_OUTPUT_DIR}")
  endif()
endfunction()
