#pragma once

#include "messages/codec.hpp"
#include "messages/transport.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace metronome::messages::test {

namespace wire = metronome::messages::wire;

using bytes = std::vector<std::uint8_t>;

/// Generous bound for anything that should happen "soon".
inline constexpr std::chrono::seconds deadline{10};

/// Polls `pred` until it holds or `limit` passes; returns its last value.
inline bool wait_until(const std::function<bool()>& pred,
                       std::chrono::milliseconds limit = deadline) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= end)
      return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

inline std::string tcp_endpoint(int port) {
  return "tcp://127.0.0.1:" + std::to_string(port);
}

/// A vector of `n` distinct, recognisable floats.
inline std::vector<float> ramp(std::size_t n, float start = 0.5f) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = start + 0.25f * static_cast<float>(i);
  return v;
}

inline float_block block_of(const std::vector<float>& v) {
  return float_block::copy(v.data(), v.size());
}

inline std::vector<float> to_vector(float_view v) {
  return std::vector<float>(v.begin(), v.end());
}

/// A header with every field set to a non-default value.
inline header make_header(std::string_view source, std::string_view destination,
                          std::uint64_t seq, std::int64_t clock = -7,
                          std::uint32_t table_id = 5) {
  header h;
  h.source = source;
  h.destination = destination;
  h.seq = seq;
  h.clock = clock;
  h.table_id = table_id;
  return h;
}

/// A dense Push of `values` starting at key `offset`.
inline outbound make_push(const header& h, std::uint64_t offset,
                          const std::vector<float>& values) {
  envelope_builder b;
  auto f = b.floats(offset, block_of(values));
  auto body = wire::CreatePush(b.fbb(), f);
  return b.finish(h, wire::Body::Push, body.Union());
}

/// A sparse Push; `keys` and `values` may disagree in size on purpose.
inline outbound make_sparse_push(const header& h,
                                 const std::vector<std::uint64_t>& keys,
                                 const std::vector<float>& values) {
  envelope_builder b;
  auto f = b.floats(keys, block_of(values));
  auto body = wire::CreatePush(b.fbb(), f);
  return b.finish(h, wire::Body::Push, body.Union());
}

inline outbound make_clock(const header& h) {
  envelope_builder b;
  auto body = wire::CreateClock(b.fbb());
  return b.finish(h, wire::Body::Clock, body.Union());
}

/// Copies of the frames the transport would put on the wire for `out`.
struct frames {
  bytes envelope;
  std::optional<bytes> attachment;
};

inline frames to_frames(const outbound& out) {
  frames f;
  f.envelope.assign(out.envelope.data(),
                    out.envelope.data() + out.envelope.size());
  if (out.attachment.size > 0) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(out.attachment.data);
    f.attachment.emplace(p, p + out.attachment.size * sizeof(float));
  }
  return f;
}

/// Sends `parts` as the frames of one message on `s`.
inline void send_frames(zmq::socket_t& s, const std::vector<bytes>& parts) {
  for (std::size_t i = 0; i < parts.size(); ++i) {
    zmq::message_t m(parts[i].data(), parts[i].size());
    auto flags =
        i + 1 < parts.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
    ASSERT_TRUE(s.send(m, flags));
  }
}

/// The frames `out` travels as: its envelope, then its attachment if any.
inline std::vector<bytes> wire_parts(const outbound& out) {
  auto f = to_frames(out);
  std::vector<bytes> parts{f.envelope};
  if (f.attachment)
    parts.push_back(*f.attachment);
  return parts;
}

inline zmq::message_t to_message(const bytes& b) {
  return zmq::message_t(b.data(), b.size());
}

/// The outcome of inbound::verify.
struct verdict {
  std::shared_ptr<inbound> msg;
  rejection why = rejection::none;
  std::string error;
};

inline verdict verify_bytes(const bytes& envelope,
                            const std::optional<bytes>& attachment,
                            std::size_t max_bytes = std::size_t{1} << 30) {
  verdict v;
  std::optional<zmq::message_t> att;
  if (attachment)
    att.emplace(attachment->data(), attachment->size());
  v.msg = inbound::verify("peer", to_message(envelope), std::move(att),
                          max_bytes, v.why, v.error);
  return v;
}

inline verdict verify_outbound(const outbound& out,
                               std::size_t max_bytes = std::size_t{1} << 30) {
  auto f = to_frames(out);
  return verify_bytes(f.envelope, f.attachment, max_bytes);
}

/// Adds a vector of 8-byte values that the finished buffer holds at 4 mod 8:
/// what no builder writes and FlatBuffers' verifier (4-byte alignment only)
/// still accepts. The builder's buffer must reach 8-byte alignment (any
/// envelope does: its header has 8-byte fields).
template <class T>
flatbuffers::Offset<flatbuffers::Vector<T>>
misaligned_vector(flatbuffers::FlatBufferBuilder& fbb,
                  const std::vector<T>& v) {
  static_assert(sizeof(T) == 8);
  fbb.StartVector(v.size(), sizeof(std::uint32_t));
  // Counted from the end, the data must start at 4 mod 8.
  if (fbb.GetSize() % 8 == 0)
    fbb.Pad(4);
  fbb.PushBytes(reinterpret_cast<const std::uint8_t*>(v.data()),
                v.size() * sizeof(T));
  return flatbuffers::Offset<flatbuffers::Vector<T>>(fbb.EndVector(v.size()));
}

/// What a deliver callback saw of one message (copied, so the message itself
/// can be released).
struct received {
  std::string sender;
  std::string source;
  std::string destination;
  std::uint64_t seq = 0;
  std::int64_t clock = 0;
  std::uint32_t table_id = 0;
  wire::Body kind = wire::Body::NONE;
  std::uint64_t offset = 0;
  std::vector<std::uint64_t> keys;
  std::vector<float> values;
};

/// A thread-safe deliver callback for a fixed set of local actors. With
/// hold(true) it keeps every delivered message alive until release().
class recorder {
public:
  explicit recorder(std::set<std::string> actors)
      : actors_(std::move(actors)) {}

  transport::deliver_fn callback() {
    return [this](inbound_ptr m) { return deliver(std::move(m)); };
  }

  void hold(bool on) {
    std::lock_guard<std::mutex> guard{mtx_};
    hold_ = on;
  }

  /// Drops the held messages (returning their credit) outside the lock.
  void release() {
    std::vector<inbound_ptr> held;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      held.swap(held_);
    }
    held.clear();
  }

  std::size_t count() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return got_.size();
  }

  std::size_t held() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return held_.size();
  }

  std::vector<received> messages() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return got_;
  }

  /// Takes the inbound pointer of the latest held message, if any.
  inbound_ptr take_last_held() {
    std::lock_guard<std::mutex> guard{mtx_};
    if (held_.empty())
      return nullptr;
    auto m = held_.back();
    held_.pop_back();
    return m;
  }

  bool wait_for_count(std::size_t n,
                      std::chrono::milliseconds limit = deadline) const {
    return wait_until([&] { return count() >= n; }, limit);
  }

private:
  transport::delivery deliver(inbound_ptr m) {
    std::string dest(m->destination());
    if (actors_.count(dest) == 0)
      return transport::delivery::unknown_actor;
    received r;
    r.sender = m->sender();
    r.source = std::string(m->source());
    r.destination = dest;
    r.seq = m->header().seq();
    r.clock = m->header().clock();
    r.table_id = m->header().table_id();
    r.kind = m->kind();
    const wire::Floats* f = nullptr;
    if (m->kind() == wire::Body::Push)
      f = m->envelope().body_as_Push()->payload();
    else if (m->kind() == wire::Body::PullReply)
      f = m->envelope().body_as_PullReply()->payload();
    if (f != nullptr) {
      r.offset = f->offset();
      if (f->keys() != nullptr)
        r.keys.assign(f->keys()->begin(), f->keys()->end());
      r.values = to_vector(m->values(*f));
    }
    std::lock_guard<std::mutex> guard{mtx_};
    got_.push_back(std::move(r));
    if (hold_)
      held_.push_back(std::move(m));
    return transport::delivery::delivered;
  }

  std::set<std::string> actors_;
  mutable std::mutex mtx_;
  bool hold_ = false;
  std::vector<received> got_;
  std::vector<inbound_ptr> held_;
};

/// The header of the messages the codec tests send.
inline constexpr std::string_view source_name = "worker/3";
inline constexpr std::string_view destination_name = "server/1";
inline constexpr std::uint64_t test_seq = 0x0102030405060708ull;
inline constexpr std::int64_t test_clock = -123456789012345ll;
inline constexpr std::uint32_t test_table = 0xCAFEu;

inline header test_header() {
  return make_header(source_name, destination_name, test_seq, test_clock,
                     test_table);
}

/// Verifies `out` and checks the header, the kind and the frame layout.
inline std::shared_ptr<inbound> round_trip(const outbound& out, wire::Body kind,
                                           bool attached = false) {
  EXPECT_EQ(out.kind, kind);
  EXPECT_EQ(out.destination, destination_name);
  EXPECT_EQ(out.attachment.size > 0, attached);
  auto f = to_frames(out);
  EXPECT_EQ(out.wire_bytes(),
            f.envelope.size() + (f.attachment ? f.attachment->size() : 0));
  auto v = verify_bytes(f.envelope, f.attachment);
  EXPECT_NE(v.msg, nullptr) << v.error;
  if (!v.msg)
    return nullptr;
  EXPECT_EQ(v.why, rejection::none);
  const auto& m = *v.msg;
  EXPECT_EQ(m.kind(), kind);
  EXPECT_EQ(m.sender(), "peer");
  EXPECT_EQ(m.source(), source_name);
  EXPECT_EQ(m.destination(), destination_name);
  EXPECT_EQ(m.header().seq(), test_seq);
  EXPECT_EQ(m.header().clock(), test_clock);
  EXPECT_EQ(m.header().table_id(), test_table);
  EXPECT_EQ(m.wire_bytes(), out.wire_bytes());
  return std::move(v.msg);
}

} // namespace metronome::messages::test
