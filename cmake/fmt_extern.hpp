// Included ahead of every file of ours (chat_options, cmake/ChatWarnings.cmake;
// for targets with precompiled headers, as the first of them).
//
// fmt 9 (Debian 12's libfmt-dev, spdlog's formatter) instantiates its
// formatting core, fmt::detail::vformat_to<char>, and everything it calls
// (the integer, float and string writers) in every file that logs, although
// libfmt.so exports that very instantiation. Declared extern, every file
// calls the library's copy instead: the same code at run time, seconds less
// compile time per file that logs. fmt 10 declares it so itself.
#pragma once

// FMT_SHARED: the file is built against libfmt.so (fmt::fmt, through
// spdlog), which exports the instantiation; files that do not use fmt do
// not even include it.
#if defined(FMT_SHARED) && __has_include(<fmt/core.h>)
#include <fmt/core.h>
#if FMT_VERSION >= 90000 && FMT_VERSION < 100000 && !defined(FMT_HEADER_ONLY)
FMT_BEGIN_NAMESPACE
namespace detail {
extern template FMT_API void vformat_to<char>(buffer<char>&, basic_string_view<char>,
                                              basic_format_args<FMT_BUFFER_CONTEXT(char)>, locale_ref);
}  // namespace detail
FMT_END_NAMESPACE
#endif
#endif
