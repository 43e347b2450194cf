#pragma once

#include <cstdint>
#include <random>

namespace metronome::algorithms {

/// Mixes a 64-bit value (splitmix64's finaliser): turns nearby seeds into
/// unrelated generator states.
inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// Uniform integer in [0, n) by rejection: unbiased and the same with every
/// standard library (std:: distributions are implementation-defined).
inline std::uint64_t uniform_below(std::mt19937_64& gen, std::uint64_t n) {
  std::uint64_t threshold = (0 - n) % n;
  std::uint64_t x = gen();
  while (x < threshold)
    x = gen();
  return x % n;
}

/// Uniform double in the open interval (0, 1) from the top 53 bits of one
/// draw.
inline double uniform_open(std::mt19937_64& gen) {
  return (static_cast<double>(gen() >> 11) + 0.5) * 0x1.0p-53;
}

} // namespace metronome::algorithms
