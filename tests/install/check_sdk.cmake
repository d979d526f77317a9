# Installs the build into a fresh prefix, then builds the plugin template
# (examples/plugin-template) against that install alone, as a plugin author
# would, with a plain configure, and runs the template's own test: the
# installed chat-host loads it from its own folder beside the installed
# grpc-chat, lists its keys, refuses a bad value, runs it and stops cleanly.
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DPREFIX=... -P check_sdk.cmake
file(REMOVE_RECURSE "${PREFIX}" "${PREFIX}-template")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
                RESULT_VARIABLE result OUTPUT_QUIET ERROR_VARIABLE error)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "cmake --install failed: ${error}")
endif()

# Only the SDK's own files: the plugin header and the protocol's, nothing of the host's internals.
file(GLOB_RECURSE headers RELATIVE "${PREFIX}/include" "${PREFIX}/include/*")
list(SORT headers)
set(expected chathost/plugin.hpp chathost/proto/chat.grpc.pb.h chathost/proto/chat.pb.h chathost/proto/chat.proto
             chathost/proto/health.grpc.pb.h chathost/proto/health.pb.h chathost/proto/health.proto)
if(NOT headers STREQUAL expected)
  message(FATAL_ERROR "installed include/ holds ${headers}, expected ${expected}")
endif()

function(step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${what} failed (${result}):\n${output}")
  endif()
endfunction()
# The environment's compiler flags are the author's, not this build's.
unset(ENV{CXXFLAGS})
unset(ENV{LDFLAGS})
step("configuring the template" "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/examples/plugin-template"
     -B "${PREFIX}-template" "-DCMAKE_PREFIX_PATH=${PREFIX}")
step("building the template" "${CMAKE_COMMAND}" --build "${PREFIX}-template")
step("the template's test" "${CMAKE_CTEST_COMMAND}" --test-dir "${PREFIX}-template" --output-on-failure)
file(REMOVE_RECURSE "${PREFIX}" "${PREFIX}-template")
message(STATUS "a plugin built against the install runs beside grpc-chat")
