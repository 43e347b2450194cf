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

/// xoshiro256** (Blackman and Vigna), a 64-bit generator several times
/// cheaper than std::mt19937_64 per draw, for samplers that draw several
/// numbers per token; its state comes from splitmix64 of the seed.
class xoshiro256ss {
public:
  using result_type = std::uint64_t;
  explicit xoshiro256ss(std::uint64_t seed) {
    for (auto& word : s_) {
      seed += 0x9e3779b97f4a7c15ull;
      word = splitmix64(seed);
    }
  }
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }
  result_type operator()() {
    auto result = rotl(s_[1] * 5, 7) * 9;
    auto t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

private:
  static std::uint64_t rotl(std::uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
  }
  std::uint64_t s_[4];
};

/// Uniform integer in [0, n) by rejection: unbiased and the same with every
/// standard library (std:: distributions are implementation-defined).
template <class Generator>
std::uint64_t uniform_below(Generator& gen, std::uint64_t n) {
  std::uint64_t threshold = (0 - n) % n;
  std::uint64_t x = gen();
  while (x < threshold)
    x = gen();
  return x % n;
}

/// Uniform double in the open interval (0, 1) from the top 53 bits of one
/// 64-bit draw.
template <class Generator>
double uniform_open(Generator& gen) {
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
