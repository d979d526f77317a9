# cmake -DCHATHOST=... -DPLUGIN_DIR=... -DWORK_DIR=... -P runs_beside_grpc_chat.cmake
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run_host expect_code)
  execute_process(COMMAND "${CHATHOST}" --plugin-dir "${PLUGIN_DIR}" ${ARGN}
                  WORKING_DIRECTORY "${WORK_DIR}" TIMEOUT 30
                  RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT code STREQUAL "${expect_code}")
    message(FATAL_ERROR "chat-host ${ARGN}: exit ${code}, expected ${expect_code}:\n${out}")
  endif()
  set(output "${out}" PARENT_SCOPE)
endfunction()

function(expect_in text what)
  string(FIND "${output}" "${text}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${what}: no '${text}' in:\n${output}")
  endif()
endfunction()

# Its keys, with their defaults and ranges.
run_host(0 --help-config)
expect_in("[room-watch]" "--help-config")
expect_in("interval_ms (integer) = 5000  in 100..3600000" "--help-config")

# A bad value: the host names the file, the table and the key, and stops.
file(WRITE "${WORK_DIR}/bad.toml" "[host]\nplugins = [\"room-watch\"]\n\n[room-watch]\nroom = \"\"\n")
run_host(1 --config "${WORK_DIR}/bad.toml" --check)
expect_in("bad.toml:5: [room-watch] room: must not be empty" "a bad value")

# Running beside grpc-chat, which listens on a port picked here (tried
# again with another should that one be taken meanwhile); room-watch is
# told where by chat_target. After a moment the host is stopped the way an
# operator does, with one SIGTERM (timeout(1) sends it, to the host alone
# with --foreground, and passes on its exit status), and must exit 0.
foreach(attempt RANGE 1 5)
  string(RANDOM LENGTH 5 ALPHABET 0123456789 number)
  math(EXPR port "20000 + ${number} % 12000")
  file(WRITE "${WORK_DIR}/chat.toml" "[host]
plugins = [\"grpc-chat\", \"room-watch\"]
log_level = \"debug\"
stop_timeout_ms = 5000

[grpc-chat]
host = \"127.0.0.1\"
port = ${port}
store = \"memory\"

[room-watch]
chat_target = \"127.0.0.1:${port}\"
room = \"lobby\"
interval_ms = 100
")
  execute_process(COMMAND timeout --foreground --preserve-status --signal=TERM 5 "${CHATHOST}" --plugin-dir "${PLUGIN_DIR}"
                          --config "${WORK_DIR}/chat.toml"
                  WORKING_DIRECTORY "${WORK_DIR}"
                  RESULT_VARIABLE code OUTPUT_VARIABLE output ERROR_VARIABLE output)
  string(FIND "${output}" "in use" taken)
  if(taken EQUAL -1)
    break()
  endif()
endforeach()
if(NOT code EQUAL 0)
  message(FATAL_ERROR "chat-host with room-watch: exit ${code}:\n${output}")
endif()
expect_in("[room-watch] watching room 'lobby' on 127.0.0.1:${port} every 100 ms" "start")
expect_in("[room-watch] room 'lobby': newest sequence 0" "a history call")
expect_in("[host] stopped" "a clean stop")
