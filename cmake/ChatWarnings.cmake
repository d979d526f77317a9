# chat_warnings: linked into every target we build, never into third-party code.
add_library(chat_warnings INTERFACE)
target_compile_options(chat_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough
  # GCC 12 warns about `"x" + std::string(...)` at -O2 (its bug 105329, fixed in 13);
  # every such warning in a release build was that false positive.
  $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>
  $<$<BOOL:${CHATHOST_WERROR}>:-Werror>)

# chat_sanitizers: filled by the asan and tsan presets through CHATHOST_SANITIZE.
set(CHATHOST_SANITIZE "" CACHE STRING "Sanitizers to build with, e.g. address,undefined")
add_library(chat_sanitizers INTERFACE)
if(CHATHOST_SANITIZE)
  target_compile_options(chat_sanitizers INTERFACE
    -fsanitize=${CHATHOST_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(chat_sanitizers INTERFACE -fsanitize=${CHATHOST_SANITIZE})
  # GCC warns (-Wtsan) that ThreadSanitizer does not model atomic_thread_fence;
  # the only fences are Boost.Asio's (std_fenced_block, around each handler),
  # whose handlers are already ordered by the scheduler's mutex. With -Werror
  # that warning from Boost's headers would stop every tsan build.
  if(CHATHOST_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(chat_sanitizers INTERFACE -Wno-tsan)
  endif()
endif()

# chat_fmt_extern: cmake/fmt_extern.hpp ahead of every file (it says why).
# A target with precompiled headers has it as the first of them instead: a
# precompiled header is only used when nothing comes before it.
add_library(chat_fmt_extern INTERFACE)
target_compile_options(chat_fmt_extern INTERFACE
  "$<$<NOT:$<OR:$<BOOL:$<TARGET_PROPERTY:PRECOMPILE_HEADERS>>,$<BOOL:$<TARGET_PROPERTY:PRECOMPILE_HEADERS_REUSE_FROM>>>>:SHELL:-include ${CMAKE_CURRENT_LIST_DIR}/fmt_extern.hpp>")

add_library(chat_options INTERFACE)
target_link_libraries(chat_options INTERFACE chat_warnings chat_sanitizers chat_fmt_extern)
