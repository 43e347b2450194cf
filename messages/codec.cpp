#include "messages/codec.hpp"

#include <cstring>
#include <stdexcept>
#include <utility>

namespace metronome::messages {

float_block float_block::of(std::shared_ptr<const std::vector<float>> values) {
  auto size = values->size();
  return of(std::move(values), 0, size);
}

float_block float_block::of(std::shared_ptr<const std::vector<float>> values,
                            std::size_t first, std::size_t count) {
  float_block block;
  block.data = values->data() + first;
  block.size = count;
  block.owner = std::move(values);
  return block;
}

float_block float_block::copy(const float* data, std::size_t count) {
  return of(std::make_shared<const std::vector<float>>(data, data + count));
}

envelope_bytes::envelope_bytes(const std::uint8_t* data, std::size_t size)
    : size_(size) {
  if (size > inline_capacity)
    throw std::length_error("envelope_bytes: " + std::to_string(size) +
                            " bytes do not fit inline");
  std::memcpy(inline_.data(), data, size);
}

envelope_bytes::envelope_bytes(flatbuffers::DetachedBuffer buffer)
    : shared_(std::make_shared<const flatbuffers::DetachedBuffer>(
          std::move(buffer)))
    , size_(shared_->size()) {}

envelope_bytes& envelope_bytes::operator=(const envelope_bytes& other) {
  if (this != &other) {
    shared_ = other.shared_;
    size_ = other.size_;
    if (!shared_)
      std::memcpy(inline_.data(), other.inline_.data(), size_);
  }
  return *this;
}

envelope_bytes& envelope_bytes::operator=(envelope_bytes&& other) noexcept {
  if (this != &other) {
    shared_ = std::move(other.shared_);
    size_ = std::exchange(other.size_, 0);
    if (!shared_)
      std::memcpy(inline_.data(), other.inline_.data(), size_);
  }
  return *this;
}

std::size_t outbound::wire_bytes() const {
  return envelope.size() + attachment.size * sizeof(float);
}

std::uint8_t* envelope_builder::inline_allocator::allocate(std::size_t size) {
  if (size <= bytes_.size() && !in_use_) {
    in_use_ = true;
    return bytes_.data();
  }
  return new std::uint8_t[size];
}

void envelope_builder::inline_allocator::deallocate(std::uint8_t* p,
                                                    std::size_t) {
  if (p == bytes_.data())
    in_use_ = false;
  else
    delete[] p;
}

envelope_builder::envelope_builder(std::size_t initial_size)
    : fbb_(initial_size, &allocator_) {}

flatbuffers::Offset<wire::Floats> envelope_builder::floats(std::uint64_t offset,
                                                           float_block values) {
  return encode_floats(offset, nullptr, std::move(values));
}

flatbuffers::Offset<wire::Floats>
envelope_builder::floats(const std::vector<std::uint64_t>& keys,
                         float_block values) {
  return encode_floats(0, &keys, std::move(values));
}

flatbuffers::Offset<wire::Floats>
envelope_builder::encode_floats(std::uint64_t offset,
                                const std::vector<std::uint64_t>* keys,
                                float_block values) {
  flatbuffers::Offset<flatbuffers::Vector<std::uint64_t>> key_vec;
  if (keys != nullptr)
    key_vec = fbb_.CreateVector(*keys);
  flatbuffers::Offset<flatbuffers::Vector<float>> inline_values;
  std::uint64_t attached = 0;
  if (values.size >= attach_threshold && attachment_.data == nullptr) {
    attached = values.size;
    attachment_ = std::move(values);
  } else {
    inline_values = fbb_.CreateVector(values.data, values.size);
  }
  return wire::CreateFloats(fbb_, offset, key_vec, inline_values, attached);
}

// A message the receiver would drop as malformed fails where it is built,
// so the bug stops the sender instead of leaving a peer waiting.
void envelope_builder::check_sizes(std::size_t keys, std::size_t values) {
  if (keys != 0 && keys != values)
    throw std::invalid_argument("a payload of " + std::to_string(keys) +
                                " keys and " + std::to_string(values) +
                                " values; keys, when given, need one value "
                                "each");
}

flatbuffers::Offset<wire::Doubles>
envelope_builder::doubles(const std::vector<std::uint64_t>& keys,
                          const std::vector<double>& values,
                          std::uint64_t offset) {
  check_sizes(keys.size(), values.size());
  auto k = keys.empty() ? 0 : fbb_.CreateVector(keys);
  return wire::CreateDoubles(fbb_, offset, k, fbb_.CreateVector(values));
}

flatbuffers::Offset<wire::Integers>
envelope_builder::integers(const std::vector<std::uint64_t>& keys,
                           const std::vector<std::int64_t>& values,
                           std::uint64_t offset) {
  check_sizes(keys.size(), values.size());
  auto k = keys.empty() ? 0 : fbb_.CreateVector(keys);
  return wire::CreateIntegers(fbb_, offset, k, fbb_.CreateVector(values));
}

outbound envelope_builder::finish(const header& h, wire::Body kind,
                                  flatbuffers::Offset<void> body) {
  auto source = fbb_.CreateString(h.source.data(), h.source.size());
  auto destination =
      fbb_.CreateString(h.destination.data(), h.destination.size());
  auto hdr =
      wire::CreateHeader(fbb_, source, destination, h.seq, h.clock, h.table_id);
  auto env = wire::CreateEnvelope(fbb_, hdr, kind, body);
  wire::FinishEnvelopeBuffer(fbb_, env);
  outbound out;
  out.destination = std::string(h.destination);
  if (fbb_.GetSize() <= envelope_bytes::inline_capacity) {
    out.envelope = envelope_bytes(fbb_.GetBufferPointer(), fbb_.GetSize());
  } else {
    // Larger than the inline storage, so the buffer came from new[], which
    // a DetachedBuffer without an allocator frees.
    std::size_t reserved = 0;
    std::size_t offset = 0;
    std::uint8_t* buf = fbb_.ReleaseRaw(reserved, offset);
    out.envelope = envelope_bytes(flatbuffers::DetachedBuffer(
        nullptr, false, buf, reserved, buf + offset, reserved - offset));
  }
  out.attachment = std::move(attachment_);
  out.kind = kind;
  return out;
}

namespace {

const wire::Floats* floats_of(const wire::Envelope& env) {
  switch (env.body_type()) {
  case wire::Body::Push:
    return env.body_as_Push()->payload();
  case wire::Body::PullReply:
    return env.body_as_PullReply()->payload();
  default:
    return nullptr;
  }
}

bool is_aligned(const void* p, std::size_t alignment) {
  return reinterpret_cast<std::uintptr_t>(p) % alignment == 0;
}

// Checks what the FlatBuffers verifier cannot: that payload sizes agree with
// each other and with the attached frame.
std::string check_semantics(const wire::Envelope& env,
                            std::size_t attachment_bytes, bool has_attachment) {
  if (env.header() == nullptr)
    return "envelope has no header";
  auto kind = env.body_type();
  if (kind == wire::Body::NONE || env.body() == nullptr)
    return "envelope has no body";
  // The verifier cannot check a kind this build does not know.
  if (kind > wire::Body::MAX)
    return "unknown message kind " +
           std::to_string(static_cast<unsigned>(kind));
  if ((kind == wire::Body::Push || kind == wire::Body::PullReply) &&
      floats_of(env) == nullptr)
    return std::string(kind_name(kind)) + " has no payload";
  const auto* f = floats_of(env);
  std::uint64_t attached = f != nullptr ? f->attached() : 0;
  if (attached == 0) {
    if (has_attachment)
      return "unexpected attached frame";
  } else {
    if (!has_attachment)
      return "attached frame missing (truncated message)";
    if (attached > attachment_bytes / sizeof(float) ||
        attachment_bytes != attached * sizeof(float))
      return "attached frame has " + std::to_string(attachment_bytes) +
             " bytes, header says " + std::to_string(attached) + " floats";
    if (f->values() != nullptr && f->values()->size() != 0)
      return "payload has both inline and attached values";
  }
  if (f != nullptr && f->keys() != nullptr && f->keys()->size() > 0) {
    std::uint64_t n =
        attached > 0 ? attached : (f->values() ? f->values()->size() : 0);
    if (n != f->keys()->size())
      return "sparse payload has " + std::to_string(f->keys()->size()) +
             " keys but " + std::to_string(n) + " values";
  }
  return {};
}

template <class Table>
std::string check_key_values(const Table* t, const char* what) {
  if (t == nullptr)
    return {};
  auto n = t->values() ? t->values()->size() : 0;
  if (t->keys() != nullptr && t->keys()->size() > 0 && t->keys()->size() != n)
    return std::string(what) + " has " + std::to_string(t->keys()->size()) +
           " keys but " + std::to_string(n) + " values";
  return {};
}

// Payloads of the scheduled-program messages: keys and values agree.
std::string check_rounds(const wire::Envelope& env) {
  std::string error;
  auto take = [&](std::string e) {
    if (error.empty())
      error = std::move(e);
  };
  switch (env.body_type()) {
  case wire::Body::Round: {
    const auto* r = env.body_as_Round();
    take(check_key_values(r->work(), "round work"));
    take(check_key_values(r->changes(), "round changes"));
    take(check_key_values(r->counts(), "round counts"));
    break;
  }
  case wire::Body::RoundResult: {
    const auto* r = env.body_as_RoundResult();
    take(check_key_values(r->values(), "round result"));
    take(check_key_values(r->counts(), "round result counts"));
    break;
  }
  case wire::Body::Record:
    take(check_key_values(env.body_as_Record()->parameters(), "record"));
    break;
  default:
    break;
  }
  return error;
}

// The verifier checks vectors for 4-byte alignment only; a peer can place a
// vector of 8-byte elements at 4 mod 8 and every element read of it would
// be misaligned. A builder never does (except for empty vectors, which have
// nothing to read), so such a message is malformed.
class alignment_check {
public:
  explicit alignment_check(const std::uint8_t* base)
      : base_(base) {}

  // The field is named in two parts, joined only for an error, so that
  // checking a well-formed message allocates nothing.
  template <class T>
  void vector(const flatbuffers::Vector<T>* v, std::string_view field,
              std::string_view member = {}) {
    static_assert(sizeof(T) == 8);
    if (!error_.empty() || v == nullptr || v->size() == 0)
      return;
    const auto* data = reinterpret_cast<const std::uint8_t*>(v->data());
    if (!is_aligned(data, sizeof(T)))
      error_ = std::string(field) + std::string(member) +
               " (a vector of 8-byte values) is misaligned: it "
               "starts at byte " +
               std::to_string(data - base_) +
               " of the envelope, not a multiple of 8";
  }

  template <class Table>
  void key_values(const Table* t, std::string_view field) {
    if (t == nullptr)
      return;
    vector(t->keys(), field, ".keys");
    vector(t->values(), field, ".values");
  }

  const std::string& error() const { return error_; }

private:
  const std::uint8_t* base_;
  std::string error_;
};

std::string check_alignment(const wire::Envelope& env,
                            const std::uint8_t* base) {
  alignment_check c(base);
  switch (env.body_type()) {
  case wire::Body::Push:
  case wire::Body::PullReply:
    if (const auto* f = floats_of(env))
      c.vector(f->keys(), kind_name(env.body_type()), ".payload.keys");
    break;
  case wire::Body::PullRequest:
    c.vector(env.body_as_PullRequest()->keys(), "PullRequest.keys");
    break;
  case wire::Body::Cutoff:
    c.vector(env.body_as_Cutoff()->runtimes(), "Cutoff.runtimes");
    c.vector(env.body_as_Cutoff()->expected_throughput(),
             "Cutoff.expected_throughput");
    break;
  case wire::Body::Predict:
    c.vector(env.body_as_Predict()->runtimes(), "Predict.runtimes");
    break;
  case wire::Body::Prediction:
    c.vector(env.body_as_Prediction()->expected_throughput(),
             "Prediction.expected_throughput");
    break;
  case wire::Body::Round: {
    const auto* r = env.body_as_Round();
    c.key_values(r->work(), "Round.work");
    c.key_values(r->changes(), "Round.changes");
    c.key_values(r->counts(), "Round.counts");
    break;
  }
  case wire::Body::RoundResult: {
    const auto* r = env.body_as_RoundResult();
    c.key_values(r->values(), "RoundResult.values");
    c.key_values(r->counts(), "RoundResult.counts");
    break;
  }
  case wire::Body::Record:
    c.key_values(env.body_as_Record()->parameters(), "Record.parameters");
    break;
  default:
    break;
  }
  return c.error();
}

template <class T, class Table>
key_values<T> read_key_values(const Table* t) {
  key_values<T> out;
  if (t == nullptr)
    return out;
  out.offset = t->offset();
  // memcpy, not element reads, so this is safe on any table (verify()
  // also rejects misaligned 8-byte vectors).
  if (t->keys() != nullptr && t->keys()->size() > 0) {
    out.keys.resize(t->keys()->size());
    std::memcpy(out.keys.data(), t->keys()->data(),
                out.keys.size() * sizeof(std::uint64_t));
  }
  if (t->values() != nullptr && t->values()->size() > 0) {
    out.values.resize(t->values()->size());
    std::memcpy(out.values.data(), t->values()->data(),
                out.values.size() * sizeof(T));
  }
  return out;
}

} // namespace

key_values<double> read_doubles(const wire::Doubles* d) {
  return read_key_values<double>(d);
}

key_values<std::int64_t> read_integers(const wire::Integers* d) {
  return read_key_values<std::int64_t>(d);
}

std::shared_ptr<inbound>
inbound::verify(std::string sender, zmq::message_t envelope,
                std::optional<zmq::message_t> attachment, std::size_t max_bytes,
                rejection& why, std::string& error) {
  std::size_t total = envelope.size() + (attachment ? attachment->size() : 0);
  if (total > max_bytes) {
    why = rejection::oversized;
    error = "message of " + std::to_string(total) + " bytes exceeds limit of " +
            std::to_string(max_bytes);
    return nullptr;
  }
  why = rejection::malformed;
  if (envelope.size() < 8) {
    error = "frame of " + std::to_string(envelope.size()) +
            " bytes is too short for an envelope";
    return nullptr;
  }
  auto msg = std::make_shared<inbound>(private_tag{});
  msg->sender_ = std::move(sender);
  msg->wire_bytes_ = total;
  msg->envelope_frame_ = std::move(envelope);
  const auto* bytes = msg->envelope_frame_.data<std::uint8_t>();
  std::size_t size = msg->envelope_frame_.size();
  if (!is_aligned(bytes, alignof(std::uint64_t))) {
    std::uint8_t* copy = msg->small_copy_.data();
    if (size > msg->small_copy_.size()) {
      msg->aligned_envelope_.reset(new std::uint64_t[(size + 7) / 8]);
      copy = reinterpret_cast<std::uint8_t*>(msg->aligned_envelope_.get());
    }
    std::memcpy(copy, bytes, size);
    bytes = copy;
  }
  std::size_t attachment_bytes = attachment ? attachment->size() : 0;
  if (!msg->check(bytes, size, attachment_bytes, attachment.has_value(), error))
    return nullptr;
  if (attachment) {
    msg->attachment_frame_ = std::move(*attachment);
    const void* data = msg->attachment_frame_.data();
    msg->attachment_size_ = attachment_bytes / sizeof(float);
    if (is_aligned(data, alignof(float))) {
      msg->attachment_data_ = static_cast<const float*>(data);
    } else {
      msg->aligned_attachment_.resize(msg->attachment_size_);
      std::memcpy(msg->aligned_attachment_.data(), data, attachment_bytes);
      msg->attachment_data_ = msg->aligned_attachment_.data();
    }
  }
  why = rejection::none;
  return msg;
}

std::shared_ptr<inbound> inbound::verify_small(std::string sender,
                                               const std::uint8_t* data,
                                               std::size_t size,
                                               std::string& error) {
  if (size > envelope_bytes::inline_capacity) {
    error = "envelope of " + std::to_string(size) +
            " bytes is too large for a bundle";
    return nullptr;
  }
  auto msg = std::make_shared<inbound>(private_tag{});
  msg->sender_ = std::move(sender);
  msg->wire_bytes_ = size;
  std::memcpy(msg->small_copy_.data(), data, size);
  if (!msg->check(msg->small_copy_.data(), size, 0, false, error))
    return nullptr;
  return msg;
}

bool inbound::check(const std::uint8_t* bytes, std::size_t size,
                    std::size_t attachment_bytes, bool has_attachment,
                    std::string& error) {
  if (size < 8) {
    error = "frame of " + std::to_string(size) +
            " bytes is too short for an envelope";
    return false;
  }
  flatbuffers::Verifier verifier(bytes, size);
  if (!wire::VerifyEnvelopeBuffer(verifier)) {
    error =
        "frame of " + std::to_string(size) + " bytes is not a valid envelope";
    return false;
  }
  root_ = wire::GetEnvelope(bytes);
  error = check_semantics(*root_, attachment_bytes, has_attachment);
  if (error.empty())
    error = check_alignment(*root_, bytes);
  if (error.empty())
    error = check_rounds(*root_);
  return error.empty();
}

void inbound::handled() const {
  acquire_handoff();
  if (on_handled_ && !handled_.exchange(true))
    on_handled_->consume(wire_bytes_);
}

std::string_view inbound::source() const {
  auto* s = header().source();
  return s ? s->string_view() : std::string_view{};
}

std::string_view inbound::destination() const {
  auto* s = header().destination();
  return s ? s->string_view() : std::string_view{};
}

float_view inbound::values(const wire::Floats& f) const {
  acquire_handoff();
  if (f.attached() > 0)
    return {attachment_data_, attachment_size_};
  if (f.values() == nullptr)
    return {};
  return {f.values()->data(), f.values()->size()};
}

const char* kind_name(wire::Body kind) {
  return wire::EnumNameBody(kind);
}

bool parse_actor_name(std::string_view name, std::string& role, int& index) {
  auto slash = name.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == name.size())
    return false;
  int value = 0;
  for (char c : name.substr(slash + 1)) {
    if (c < '0' || c > '9' || value > 100000000)
      return false;
    value = value * 10 + (c - '0');
  }
  role = std::string(name.substr(0, slash));
  index = value;
  return true;
}

} // namespace metronome::messages
