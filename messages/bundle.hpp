#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace metronome::messages {

/// Several small envelopes for one peer packed into one ZeroMQ frame, so
/// that a burst of small messages costs one send, one receive and one
/// decoder allocation per bundle instead of per message.
///
/// Layout (little-endian): a u32 count and the identifier "MTRB" (where an
/// envelope carries "MTRN"), then per envelope a u32 size, four zero bytes
/// and the envelope, zero-padded to a multiple of 8 bytes.
namespace bundle {

/// Envelopes of at most this many bytes may be bundled.
constexpr std::size_t max_envelope_bytes = 256;
/// A bundle holds at most this many envelopes.
constexpr std::size_t max_envelopes = 64;

/// One envelope inside a received bundle (points into the frame).
struct part {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
};

/// True when `size` bytes at `data` start like a bundle, not an envelope.
bool is_bundle(const std::uint8_t* data, std::size_t size);

/// Splits a bundle into its envelopes; false with `error` naming the
/// offending part when the frame is not a well-formed bundle (a count
/// outside 2..max_envelopes, a part too small, too large or running past
/// the frame, bytes left over).
bool split(const std::uint8_t* data, std::size_t size, std::vector<part>& out,
           std::string& error);

/// Builds bundles; reuse one writer so its buffer keeps its capacity.
class writer {
public:
  writer() { clear(); }
  /// Starts an empty bundle.
  void clear();
  /// True when an envelope of `size` bytes may go into this bundle.
  bool fits(std::size_t size) const;
  /// Appends an envelope; call only when fits(size).
  void add(const std::uint8_t* data, std::size_t size);
  std::size_t count() const { return count_; }
  /// The finished frame (count written); valid until the next add/clear.
  const std::vector<std::uint8_t>& bytes();

private:
  std::vector<std::uint8_t> bytes_;
  std::size_t count_ = 0;
};

} // namespace bundle
} // namespace metronome::messages
