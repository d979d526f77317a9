// What the fuzz targets share: a property check that stops the run with the
// broken property named (libFuzzer then saves the input as a crash), and a
// reference UTF-8 validator written from the Unicode standard's table of
// well-formed byte sequences, to hold the parsers' own validators against.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace chat::fuzz {

[[noreturn]] inline void property_violated(const char* property, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: property violated: %s\n", file, line, property);
  std::abort();
}

// Unicode 15, table 3-7: the well-formed UTF-8 byte sequences.
inline bool is_well_formed_utf8(std::string_view text) {
  auto in = [](unsigned char byte, unsigned char lo, unsigned char hi) { return byte >= lo && byte <= hi; };
  std::size_t i = 0;
  while (i < text.size()) {
    const auto b0 = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    unsigned char lo1 = 0x80;
    unsigned char hi1 = 0xBF;
    if (b0 <= 0x7F) {
      length = 1;
    } else if (in(b0, 0xC2, 0xDF)) {
      length = 2;
    } else if (in(b0, 0xE0, 0xEF)) {
      length = 3;
      if (b0 == 0xE0) lo1 = 0xA0;
      if (b0 == 0xED) hi1 = 0x9F;
    } else if (in(b0, 0xF0, 0xF4)) {
      length = 4;
      if (b0 == 0xF0) lo1 = 0x90;
      if (b0 == 0xF4) hi1 = 0x8F;
    } else {
      return false;
    }
    if (text.size() - i < length) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto byte = static_cast<unsigned char>(text[i + k]);
      if (!(k == 1 ? in(byte, lo1, hi1) : in(byte, 0x80, 0xBF))) return false;
    }
    i += length;
  }
  return true;
}

}  // namespace chat::fuzz

#define FUZZ_CHECK(condition) \
  ((condition) ? static_cast<void>(0) : ::chat::fuzz::property_violated(#condition, __FILE__, __LINE__))
