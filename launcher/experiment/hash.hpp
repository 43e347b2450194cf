#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace metronome::launcher::experiment {

/// The 64-bit FNV-1a hash of `bytes`: a stable identity, not a defence
/// against anyone crafting collisions.
inline std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

/// `value` as 16 lower-case hex digits.
inline std::string hex64(std::uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx",
                static_cast<unsigned long long>(value));
  return text;
}

} // namespace metronome::launcher::experiment
