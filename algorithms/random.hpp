#pragma once

#include <cmath>
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

/// Standard normal draws by Box-Muller from a generator seeded with
/// splitmix64(seed): two per pair of uniforms, the same with every standard
/// library.
class normal_source {
public:
  explicit normal_source(std::uint64_t seed)
      : gen_(splitmix64(seed)) {}

  double operator()() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    constexpr double two_pi = 6.283185307179586476925286766559;
    double radius = std::sqrt(-2.0 * std::log(uniform_open(gen_)));
    double angle = two_pi * uniform_open(gen_);
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

  /// The generator, for other draws from the same stream.
  std::mt19937_64& engine() { return gen_; }

private:
  std::mt19937_64 gen_;
  double spare_ = 0;
  bool has_spare_ = false;
};

} // namespace metronome::algorithms
