#include "messages/bundle.hpp"

#include <cstring>

namespace metronome::messages::bundle {

namespace {

constexpr char identifier[4] = {'M', 'T', 'R', 'B'};
constexpr std::size_t header_bytes = 8;
constexpr std::size_t min_envelope_bytes = 8;

std::uint32_t read_u32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) |
         static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 |
         static_cast<std::uint32_t>(p[3]) << 24;
}

void write_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::size_t padded(std::size_t size) {
  return (size + 7) & ~std::size_t{7};
}

} // namespace

bool is_bundle(const std::uint8_t* data, std::size_t size) {
  return size >= header_bytes &&
         std::memcmp(data + 4, identifier, sizeof identifier) == 0;
}

bool split(const std::uint8_t* data, std::size_t size, std::vector<part>& out,
           std::string& error) {
  out.clear();
  std::uint32_t count = read_u32(data);
  if (count < 2 || count > max_envelopes) {
    error = "bundle of " + std::to_string(count) +
            " envelopes (expected 2 to " + std::to_string(max_envelopes) + ")";
    return false;
  }
  std::size_t at = header_bytes;
  for (std::uint32_t i = 0; i < count; ++i) {
    // Built only for an error: this loop runs for every small message.
    auto where = [&, start = at] {
      return "bundle part " + std::to_string(i) + " of " +
             std::to_string(count) + " at byte " + std::to_string(start);
    };
    if (size - at < header_bytes) {
      error = where() + ": frame ends before its size";
      return false;
    }
    std::size_t n = read_u32(data + at);
    if (n < min_envelope_bytes || n > max_envelope_bytes) {
      error = where() + ": size " + std::to_string(n) + " outside " +
              std::to_string(min_envelope_bytes) + " to " +
              std::to_string(max_envelope_bytes);
      return false;
    }
    at += header_bytes;
    if (size - at < padded(n)) {
      error = where() + ": " + std::to_string(n) + " bytes run past the frame";
      return false;
    }
    out.push_back({data + at, n});
    at += padded(n);
  }
  if (at != size) {
    error = "bundle of " + std::to_string(count) + " envelopes has " +
            std::to_string(size - at) + " bytes left over";
    return false;
  }
  return true;
}

void writer::clear() {
  bytes_.assign(header_bytes, 0);
  std::memcpy(bytes_.data() + 4, identifier, sizeof identifier);
  count_ = 0;
}

bool writer::fits(std::size_t size) const {
  return count_ < max_envelopes && size >= min_envelope_bytes &&
         size <= max_envelope_bytes;
}

void writer::add(const std::uint8_t* data, std::size_t size) {
  std::size_t at = bytes_.size();
  bytes_.resize(at + header_bytes + padded(size), 0);
  write_u32(bytes_.data() + at, static_cast<std::uint32_t>(size));
  std::memcpy(bytes_.data() + at + header_bytes, data, size);
  ++count_;
}

const std::vector<std::uint8_t>& writer::bytes() {
  write_u32(bytes_.data(), static_cast<std::uint32_t>(count_));
  return bytes_;
}

} // namespace metronome::messages::bundle
