#pragma once

#include "messages/metronome_generated.h"
#include "messages/thread_handoff.hpp"

#include <flatbuffers/flatbuffers.h>
#include <zmq.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace metronome::messages {

/// A read-only run of float32 values owned by someone else.
struct float_view {
  const float* data = nullptr;
  std::size_t size = 0;

  const float* begin() const { return data; }
  const float* end() const { return data + size; }
  float operator[](std::size_t i) const { return data[i]; }
};

/// Shared, immutable float storage: it can travel as an attached ZeroMQ frame
/// without a copy because the frame keeps `owner` alive until sent.
struct float_block {
  std::shared_ptr<const void> owner;
  const float* data = nullptr;
  std::size_t size = 0;

  /// Takes shared ownership of a whole vector.
  static float_block of(std::shared_ptr<const std::vector<float>> values);
  /// Shares `count` floats starting at `first` of `values`.
  static float_block of(std::shared_ptr<const std::vector<float>> values,
                        std::size_t first, std::size_t count);
  /// Copies `count` floats from `data` into a new block.
  static float_block copy(const float* data, std::size_t count);

  float_view view() const { return {data, size}; }
};

/// Payloads of at least this many floats travel as an attached frame.
constexpr std::size_t attach_threshold = 1024;

/// The header fields of an envelope.
struct header {
  std::string_view source;
  std::string_view destination;
  std::uint64_t seq = 0;
  std::int64_t clock = 0;
  std::uint32_t table_id = 0;
};

/// The bytes of one encoded envelope: inline when small, so that a small
/// message allocates nothing on its way to the transport thread (a buffer
/// allocated on one thread and freed on another contends for malloc's
/// arena lock), else a shared buffer ZeroMQ can send without a copy.
class envelope_bytes {
public:
  /// Envelopes of at most this many bytes are held inline.
  static constexpr std::size_t inline_capacity = 256;
  /// Room for one small envelope (align it to 8 for its 8-byte fields).
  using storage = std::array<std::uint8_t, inline_capacity>;

  envelope_bytes() = default;
  /// Copies `size` bytes, at most inline_capacity, from `data`.
  envelope_bytes(const std::uint8_t* data, std::size_t size);
  /// Takes a finished buffer of any size.
  explicit envelope_bytes(flatbuffers::DetachedBuffer buffer);
  // Copies move only the bytes in use, not the whole inline storage.
  envelope_bytes(const envelope_bytes& other) { *this = other; }
  envelope_bytes(envelope_bytes&& other) noexcept { *this = std::move(other); }
  envelope_bytes& operator=(const envelope_bytes& other);
  envelope_bytes& operator=(envelope_bytes&& other) noexcept;

  const std::uint8_t* data() const {
    return shared_ ? shared_->data() : inline_.data();
  }
  std::size_t size() const { return size_; }
  /// The shared buffer; null when the bytes are inline.
  const std::shared_ptr<const flatbuffers::DetachedBuffer>& shared() const {
    return shared_;
  }

private:
  std::shared_ptr<const flatbuffers::DetachedBuffer> shared_;
  std::size_t size_ = 0;
  alignas(8) storage inline_;
};

/// An encoded message ready for the transport.
struct outbound {
  /// Destination actor name; empty for messages to the peer's transport.
  std::string destination;
  envelope_bytes envelope;
  /// Values sent as the second frame, when the body's Floats says attached.
  float_block attachment;
  wire::Body kind = wire::Body::NONE;

  /// Transport-level messages bypass flow-control credit.
  bool is_control() const {
    return kind == wire::Body::Credit ||
           (kind == wire::Body::Heartbeat && destination.empty());
  }
  std::size_t wire_bytes() const;
};

/// Builds one envelope; create the body with fbb() (and floats() for float
/// payloads), then call finish() once.
class envelope_builder {
public:
  explicit envelope_builder(std::size_t initial_size = 512);
  envelope_builder(const envelope_builder&) = delete;
  envelope_builder& operator=(const envelope_builder&) = delete;

  flatbuffers::FlatBufferBuilder& fbb() { return fbb_; }

  /// Encodes dense values for keys [offset, offset + values.size): inline
  /// when small, else as the attached frame (at most one per message).
  flatbuffers::Offset<wire::Floats> floats(std::uint64_t offset,
                                           float_block values);

  /// Encodes sparse values for `keys` (one value per key).
  flatbuffers::Offset<wire::Floats>
  floats(const std::vector<std::uint64_t>& keys, float_block values);

  /// Encodes double values: for `keys` when not empty (one value each),
  /// else for the dense range starting at `offset`.
  flatbuffers::Offset<wire::Doubles>
  doubles(const std::vector<std::uint64_t>& keys,
          const std::vector<double>& values, std::uint64_t offset = 0);

  /// Encodes integer values laid out as doubles() lays out doubles. Both
  /// throw std::invalid_argument when keys are given and their number is
  /// not that of the values (a message every receiver would drop).
  flatbuffers::Offset<wire::Integers>
  integers(const std::vector<std::uint64_t>& keys,
           const std::vector<std::int64_t>& values, std::uint64_t offset = 0);

  outbound finish(const header& h, wire::Body kind,
                  flatbuffers::Offset<void> body);

private:
  /// Serves the builder's first buffer from storage inside the builder
  /// when it fits, so a small envelope is built without touching the heap.
  class inline_allocator final : public flatbuffers::Allocator {
  public:
    std::uint8_t* allocate(std::size_t size) override;
    void deallocate(std::uint8_t* p, std::size_t size) override;

  private:
    alignas(8) envelope_bytes::storage bytes_;
    bool in_use_ = false;
  };

  static void check_sizes(std::size_t keys, std::size_t values);
  flatbuffers::Offset<wire::Floats>
  encode_floats(std::uint64_t offset, const std::vector<std::uint64_t>* keys,
                float_block values);

  inline_allocator allocator_;
  flatbuffers::FlatBufferBuilder fbb_;
  float_block attachment_;
};

/// Keys and values copied out of a received Doubles or Integers table
/// (copied, so that their alignment in the frame does not matter).
template <class T>
struct key_values {
  std::uint64_t offset = 0;
  std::vector<std::uint64_t> keys; ///< empty: dense from offset
  std::vector<T> values;
};

/// The contents of `d`, empty when it is absent.
key_values<double> read_doubles(const wire::Doubles* d);
key_values<std::int64_t> read_integers(const wire::Integers* d);

/// Why an inbound message was rejected.
enum class rejection { none, malformed, oversized };

/// What a transport counts when an actor has handled one of its messages.
class handled_sink {
public:
  virtual ~handled_sink() = default;

  /// Counts one handled message of `wire_bytes` bytes; any thread calls it.
  virtual void consume(std::size_t wire_bytes) = 0;
};

/// A received message whose frames have passed verification; the accessors
/// are safe to use on any contents a peer could send.
class inbound {
  struct private_tag {};

public:
  /// For verify() only; the tag keeps other callers out.
  explicit inbound(private_tag) {}
  inbound(const inbound&) = delete;
  inbound& operator=(const inbound&) = delete;
  /// Calls handled().
  ~inbound() { handled(); }

  /// Checks the frames of one received message from node `sender` and
  /// returns the message, or nullptr with `why` and `error` set. Never reads
  /// unverified bytes; copies a frame whose start is misaligned (ZeroMQ hands
  /// frames over at any address) and rejects an envelope in which a vector
  /// of 8-byte values is misaligned (the error names the field), so every
  /// vector of an accepted message can be read element by element.
  static std::shared_ptr<inbound>
  verify(std::string sender, zmq::message_t envelope,
         std::optional<zmq::message_t> attachment, std::size_t max_bytes,
         rejection& why, std::string& error);

  /// Checks one envelope of `size` bytes at `data` (a part of a bundle,
  /// see bundle.hpp) as verify() does and copies it into the message;
  /// nullptr with `error` set when it is malformed or larger than an
  /// inline envelope.
  static std::shared_ptr<inbound> verify_small(std::string sender,
                                               const std::uint8_t* data,
                                               std::size_t size,
                                               std::string& error);

  // Each accessor first acquires the transport's hand-off, since the
  // message was written on the transport thread and reaches an actor's
  // thread through CAF's mailbox (see thread_handoff.hpp).
  const wire::Envelope& envelope() const {
    acquire_handoff();
    return *root_;
  }
  const wire::Header& header() const { return *envelope().header(); }
  wire::Body kind() const { return envelope().body_type(); }
  std::string_view source() const;
  std::string_view destination() const;

  /// The node (transport routing id) the message came from.
  const std::string& sender() const {
    acquire_handoff();
    return sender_;
  }

  /// The values of `f`, a Floats table of this message.
  float_view values(const wire::Floats& f) const;

  std::size_t wire_bytes() const { return wire_bytes_; }

  /// Tells the transport the receiving actor has handled this message, so
  /// the sender gets its flow-control credit back even while the actor
  /// keeps the message. Idempotent; destroying the message implies it.
  void handled() const;

  /// Sets who handled() tells (the transport's credit return).
  void on_handled(std::shared_ptr<handled_sink> sink) {
    on_handled_ = std::move(sink);
  }

private:
  // Verifies the envelope at `bytes` (aligned) and sets root_.
  bool check(const std::uint8_t* bytes, std::size_t size,
             std::size_t attachment_bytes, bool has_attachment,
             std::string& error);

  std::string sender_;
  zmq::message_t envelope_frame_;
  zmq::message_t attachment_frame_;
  // Where a misaligned envelope is copied: inside the message when small
  // (ZeroMQ hands small frames over at any offset of its receive buffer).
  alignas(8) envelope_bytes::storage small_copy_;
  std::unique_ptr<std::uint64_t[]> aligned_envelope_;
  std::vector<float> aligned_attachment_;
  const float* attachment_data_ = nullptr;
  std::size_t attachment_size_ = 0;
  const wire::Envelope* root_ = nullptr;
  std::size_t wire_bytes_ = 0;
  std::shared_ptr<handled_sink> on_handled_;
  mutable std::atomic<bool> handled_{false};
};

using inbound_ptr = std::shared_ptr<const inbound>;

/// Human-readable name of a message kind.
const char* kind_name(wire::Body kind);

/// Parses "role/index" into its parts; false when `name` is not of that form.
bool parse_actor_name(std::string_view name, std::string& role, int& index);

} // namespace metronome::messages
