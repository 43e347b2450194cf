// libFuzzer target: the frame decoder, inbound::verify (messages/codec.hpp),
// on one or two frames as a peer could send them. An accepted message is
// then read field by field, element by element, as the actors read it:
// every read must stay inside the frames and be aligned (ASan and UBSan
// check both).
//
// Input: a flags byte (bit 0: an attached frame follows; bit 1: the
// envelope frame starts at an odd address; bit 2: so does the attachment;
// bit 3: a message limit below the input's size; bit 4: the rest is a
// bundle of envelopes, messages/bundle.hpp), with an attachment two
// little-endian bytes giving the envelope's length, then the envelope and
// the attachment.

#include "messages/bundle.hpp"
#include "messages/codec.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

using namespace metronome::messages;

namespace {

// A frame whose bytes sit in a heap block of exactly their size (so ASan
// sees a read past the end), at an odd address when `misaligned`.
zmq::message_t frame(const std::uint8_t* data, std::size_t size,
                     bool misaligned) {
  std::size_t shift = misaligned ? 1 : 0;
  auto* block = static_cast<std::uint8_t*>(
      std::malloc(size + shift > 0 ? size + shift : 1));
  if (size > 0)
    std::memcpy(block + shift, data, size);
  return zmq::message_t(
      block + shift, size, [](void*, void* hint) { std::free(hint); }, block);
}

volatile std::uint64_t sink;

void touch(std::uint64_t v) {
  sink = sink + v;
}
void touch(std::uint32_t v) {
  touch(std::uint64_t{v});
}
void touch(double v) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(bits));
  touch(bits);
}
void touch(const flatbuffers::String* s) {
  if (s == nullptr)
    return;
  for (char c : s->string_view())
    touch(static_cast<std::uint64_t>(static_cast<unsigned char>(c)));
}

template <class T>
void touch(const flatbuffers::Vector<T>* v) {
  if (v == nullptr)
    return;
  for (auto x : *v)
    touch(static_cast<std::uint64_t>(x));
}

void touch(const flatbuffers::Vector<double>* v) {
  if (v == nullptr)
    return;
  for (double x : *v)
    touch(x);
}

void touch(const wire::Doubles* d) {
  if (d == nullptr)
    return;
  touch(d->offset());
  touch(d->keys());
  touch(d->values());
  auto copy = read_doubles(d);
  touch(static_cast<std::uint64_t>(copy.keys.size() + copy.values.size()));
}

void touch(const wire::Integers* d) {
  if (d == nullptr)
    return;
  touch(d->offset());
  touch(d->keys());
  touch(d->values());
  auto copy = read_integers(d);
  touch(static_cast<std::uint64_t>(copy.keys.size() + copy.values.size()));
}

void touch(const inbound& msg, const wire::Floats* f) {
  if (f == nullptr)
    return;
  touch(f->offset());
  touch(f->keys());
  touch(f->attached());
  for (float x : msg.values(*f))
    touch(static_cast<double>(x));
}

// Reads every field of an accepted message.
void read_all(const inbound& msg) {
  const auto& h = msg.header();
  touch(h.source());
  touch(h.destination());
  touch(h.seq());
  touch(static_cast<std::uint64_t>(h.clock()));
  touch(h.table_id());
  std::string role;
  int index = 0;
  parse_actor_name(msg.source(), role, index);
  parse_actor_name(msg.destination(), role, index);
  touch(std::strlen(kind_name(msg.kind())));
  const auto& env = msg.envelope();
  switch (msg.kind()) {
  case wire::Body::Hello: {
    const auto* b = env.body_as_Hello();
    touch(b->node());
    if (b->actors() != nullptr)
      for (const auto* s : *b->actors())
        touch(s);
    touch(b->pid());
    break;
  }
  case wire::Body::Push:
    touch(msg, env.body_as_Push()->payload());
    break;
  case wire::Body::PullRequest: {
    const auto* b = env.body_as_PullRequest();
    touch(b->offset());
    touch(b->count());
    touch(b->keys());
    touch(static_cast<std::uint64_t>(b->subscribe()));
    break;
  }
  case wire::Body::PullReply:
    touch(msg, env.body_as_PullReply()->payload());
    touch(static_cast<std::uint64_t>(env.body_as_PullReply()->applied()));
    break;
  case wire::Body::Heartbeat: {
    const auto* b = env.body_as_Heartbeat();
    touch(b->node());
    touch(b->frames_in() + b->frames_out() + b->bytes_in() + b->bytes_out() +
          b->dropped());
    break;
  }
  case wire::Body::Credit:
    touch(env.body_as_Credit()->messages() + env.body_as_Credit()->bytes());
    break;
  case wire::Body::Control: {
    const auto* b = env.body_as_Control();
    touch(std::strlen(wire::EnumNameCommand(b->command())));
    touch(b->reason());
    break;
  }
  case wire::Body::Report: {
    const auto* b = env.body_as_Report();
    touch(b->iteration() + b->samples());
    touch(b->loss());
    touch(b->compute_seconds());
    touch(static_cast<std::uint64_t>(b->staleness()));
    touch(b->blocked_seconds());
    touch(b->delay_seconds());
    break;
  }
  case wire::Body::Cutoff: {
    const auto* b = env.body_as_Cutoff();
    touch(b->accepted());
    touch(b->cutoff_seconds());
    touch(b->runtimes());
    touch(b->censored());
    touch(b->decision_seconds());
    touch(static_cast<std::uint64_t>(b->decision_late()));
    touch(b->late_gradients());
    touch(b->expected_throughput());
    break;
  }
  case wire::Body::Predict: {
    const auto* b = env.body_as_Predict();
    touch(b->workers());
    touch(b->runtimes());
    touch(b->censored());
    break;
  }
  case wire::Body::Prediction: {
    const auto* b = env.body_as_Prediction();
    touch(b->cutoff());
    touch(b->expected_throughput());
    touch(b->decision_seconds());
    touch(b->rule());
    break;
  }
  case wire::Body::PredictorRule: {
    const auto* b = env.body_as_PredictorRule();
    touch(b->rule());
    touch(b->backups() + b->window());
    touch(b->label());
    break;
  }
  case wire::Body::Round: {
    const auto* b = env.body_as_Round();
    touch(b->round());
    touch(b->task());
    touch(b->work());
    touch(b->changes());
    touch(b->counts());
    break;
  }
  case wire::Body::RoundResult: {
    const auto* b = env.body_as_RoundResult();
    touch(b->round());
    touch(b->values());
    touch(b->counts());
    touch(b->compute_seconds());
    break;
  }
  case wire::Body::Record: {
    const auto* b = env.body_as_Record();
    touch(b->kind());
    touch(b->fields());
    touch(b->parameters());
    break;
  }
  default:
    break;
  }
}

} // namespace

// Splits a bundle frame and verifies each of its envelopes on its own.
void fuzz_bundle(const std::uint8_t* data, std::size_t size) {
  if (!bundle::is_bundle(data, size))
    return;
  std::vector<bundle::part> parts;
  std::string error;
  if (!bundle::split(data, size, parts, error)) {
    if (error.empty())
      std::abort();
    return;
  }
  for (const auto& part : parts) {
    // Each part in a block of exactly its size, as ASan should see it.
    std::vector<std::uint8_t> copy(part.data, part.data + part.size);
    auto msg = inbound::verify_small("peer", copy.data(), copy.size(), error);
    if (msg == nullptr) {
      if (error.empty())
        std::abort();
      continue;
    }
    read_all(*msg);
  }
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size < 1)
    return 0;
  std::uint8_t flags = data[0];
  ++data;
  --size;
  if ((flags & 16) != 0) {
    fuzz_bundle(data, size);
    return 0;
  }
  std::size_t envelope_size = size;
  bool attached = (flags & 1) != 0;
  if (attached) {
    if (size < 2)
      return 0;
    envelope_size = (data[0] | (std::size_t{data[1]} << 8)) % (size - 1);
    data += 2;
    size -= 2;
  }
  std::optional<zmq::message_t> attachment;
  if (attached)
    attachment =
        frame(data + envelope_size, size - envelope_size, (flags & 4) != 0);
  std::size_t limit = (flags & 8) != 0 ? size / 2 : std::size_t{1} << 20;
  rejection why = rejection::none;
  std::string error;
  auto msg =
      inbound::verify("peer", frame(data, envelope_size, (flags & 2) != 0),
                      std::move(attachment), limit, why, error);
  if (msg == nullptr) {
    if (why == rejection::none || error.empty())
      std::abort(); // a rejection must say why
    return 0;
  }
  if (why != rejection::none || !error.empty())
    std::abort();
  read_all(*msg);
  msg->handled();
  return 0;
}
