# Installs the build into a fresh prefix and checks that the installed host
# finds its plugins and shipped config with no flags, from any directory.
#   cmake -DBUILD_DIR=... -DPREFIX=... -P check_install.cmake
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
                RESULT_VARIABLE result OUTPUT_QUIET ERROR_VARIABLE error)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "cmake --install failed: ${error}")
endif()

foreach(path
    bin/chat-host
    lib/libchat_proto.so
    lib/cmake/chathost/chathostConfig.cmake
    lib/chat-host/plugins/grpc-chat.so
    lib/chat-host/plugins/example-greeter.so
    share/chat-host/config/chat.toml
    share/chat-host/.env.example)
  if(NOT EXISTS "${PREFIX}/${path}")
    message(FATAL_ERROR "not installed: ${PREFIX}/${path}")
  endif()
endforeach()
file(GLOB test_plugins "${PREFIX}/lib/chat-host/plugins/test-*")
if(test_plugins)
  message(FATAL_ERROR "test plugins were installed: ${test_plugins}")
endif()

# From an empty directory: no ./config, no ./.env, nothing but the install.
set(workdir "${PREFIX}-cwd")
file(REMOVE_RECURSE "${workdir}")
file(MAKE_DIRECTORY "${workdir}")
execute_process(COMMAND "${PREFIX}/bin/chat-host" --check
                WORKING_DIRECTORY "${workdir}"
                RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "installed chat-host --check failed (${result}):\n${output}")
endif()
string(FIND "${output}" "configuration OK: ${PREFIX}/share/chat-host/config/chat.toml" found)
if(found EQUAL -1)
  message(FATAL_ERROR "installed chat-host did not use its shipped config:\n${output}")
endif()

execute_process(COMMAND "${PREFIX}/bin/chat-host" --help-config
                WORKING_DIRECTORY "${workdir}"
                RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE error)
string(FIND "${output}" "[grpc-chat]" found)
if(NOT result EQUAL 0 OR found EQUAL -1)
  message(FATAL_ERROR "installed chat-host --help-config failed (${result}):\n${output}${error}")
endif()
file(REMOVE_RECURSE "${PREFIX}" "${workdir}")
message(STATUS "install tree OK")
