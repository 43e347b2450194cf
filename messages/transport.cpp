#include "messages/transport.hpp"
#include "messages/ring_queue.hpp"
#include "messages/thread_handoff.hpp"

#include <spdlog/spdlog.h>
#include <zmq_addon.hpp>

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace metronome::messages {

namespace {

using clock_type = std::chrono::steady_clock;

// Envelopes smaller than this are copied into the frame; larger ones are
// handed to ZeroMQ without a copy.
constexpr std::size_t zero_copy_envelope_bytes = 2048;

// At most this many inbound messages are taken per poll round, so outbound
// queues and timers are served under load.
constexpr int receive_batch = 256;

static_assert(bundle::max_envelope_bytes <= envelope_bytes::inline_capacity,
              "a bundled envelope fits in an inbound message's own copy");

// The transport whose thread this is, if any: what its own thread sends
// needs no wake-up, the loop flushes it after the guest ran.
thread_local const void* loop_owner = nullptr;

zmq::message_t envelope_frame(const outbound& msg) {
  using shared_buffer = std::shared_ptr<const flatbuffers::DetachedBuffer>;
  const auto& env = msg.envelope;
  if (!env.shared() || env.size() < zero_copy_envelope_bytes)
    return zmq::message_t(env.data(), env.size());
  auto* keep = new shared_buffer(env.shared());
  return zmq::message_t(
      const_cast<std::uint8_t*>(env.data()), env.size(),
      [](void*, void* hint) {
        acquire_handoff();
        delete static_cast<shared_buffer*>(hint);
      },
      keep);
}

zmq::message_t attachment_frame(const float_block& block) {
  auto* keep = new float_block(block);
  return zmq::message_t(
      const_cast<float*>(block.data), block.size * sizeof(float),
      [](void*, void* hint) {
        acquire_handoff();
        delete static_cast<float_block*>(hint);
      },
      keep);
}

} // namespace

const char* to_string(peer_state s) {
  switch (s) {
  case peer_state::waiting:
    return "waiting";
  case peer_state::alive:
    return "alive";
  case peer_state::suspect:
    return "suspect";
  case peer_state::dead:
    return "dead";
  }
  return "?";
}

// An eventfd the transport thread polls; any thread may ring it, even after
// the transport is gone (the descriptor lives as long as its last holder).
struct transport::waker {
  explicit waker(const void* loop)
      : owner(loop) {}
  const void* owner;
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ~waker() {
    if (fd >= 0)
      ::close(fd);
  }
  void ring() const {
    if (loop_owner == owner)
      return;
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(fd, &one, sizeof(one));
  }
  void drain() const {
    std::uint64_t value;
    [[maybe_unused]] auto n = ::read(fd, &value, sizeof(value));
  }
};

struct transport::peer {
  std::string name;
  std::string endpoint;
  std::unique_ptr<zmq::socket_t> dealer;
  ring_queue<outbound> queue;
  std::uint64_t in_flight_messages = 0;
  std::uint64_t in_flight_bytes = 0;
  clock_type::time_point last_heard;
  clock_type::time_point last_heartbeat;
  clock_type::time_point waiting_since = clock_type::now();
  clock_type::time_point next_waiting_report;
  peer_state state = peer_state::waiting;
  bool stalled = false;
};

// What this node's actors have consumed from one sender, for credit returns.
struct transport::consumption final : handled_sink {
  std::atomic<std::uint64_t> messages{0};
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::uint64_t> returned_messages{0};
  std::atomic<std::uint64_t> returned_bytes{0};
  std::shared_ptr<const waker> wake;
  std::uint64_t threshold_messages = 1;
  std::uint64_t threshold_bytes = 1;

  void consume(std::size_t wire_bytes) override {
    auto m = messages.fetch_add(1) + 1;
    auto b = bytes.fetch_add(wire_bytes) + wire_bytes;
    if (m - returned_messages.load() >= threshold_messages ||
        b - returned_bytes.load() >= threshold_bytes)
      wake->ring();
  }
};

transport::transport(zmq::context_t& ctx, transport_options opts)
    : ctx_(ctx)
    , opts_(std::move(opts))
    , waker_(std::make_shared<waker>(this)) {
  if (waker_->fd < 0)
    throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
}

transport::~transport() {
  stop(std::chrono::milliseconds(0));
}

void transport::add_peer(const std::string& name, const std::string& endpoint) {
  auto p = std::make_unique<peer>();
  p->name = name;
  p->endpoint = endpoint;
  peers_[name] = std::move(p);
  std::lock_guard<std::mutex> guard{mtx_};
  states_[name] = peer_state::waiting;
}

void transport::start(deliver_fn deliver, peer_fn on_peer,
                      thread_guest* guest) {
  deliver_ = std::move(deliver);
  on_peer_ = std::move(on_peer);
  guest_ = guest;
  router_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::router);
  router_->set(zmq::sockopt::linger, 0);
  router_->set(zmq::sockopt::router_mandatory, 1);
  router_->set(zmq::sockopt::rcvhwm, 0);
  // No frame of a valid message is larger than a whole message may be.
  router_->set(zmq::sockopt::maxmsgsize,
               static_cast<std::int64_t>(opts_.max_message_bytes));
  max_connections_ = opts_.max_connections != 0 ? opts_.max_connections
                                                : 4 * peers_.size() + 32;
  start_monitor();
  bind_router();
  if (!bound_.empty()) {
    std::string all;
    for (const auto& ep : bound_)
      all += (all.empty() ? "" : ", ") + ep;
    spdlog::info("{}: binds {}; accepts messages of up to {} bytes", opts_.node,
                 all, opts_.max_message_bytes);
  }
  for (auto& [name, p] : peers_) {
    p->dealer = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
    p->dealer->set(zmq::sockopt::linger, 0);
    p->dealer->set(zmq::sockopt::routing_id, opts_.node);
    p->dealer->set(zmq::sockopt::sndhwm, 0);
    try {
      p->dealer->connect(p->endpoint);
    } catch (const zmq::error_t& e) {
      throw std::runtime_error("node " + opts_.node + ": cannot connect to " +
                               name + " at " + p->endpoint + ": " + e.what());
    }
    auto c = std::make_shared<consumption>();
    c->wake = waker_;
    // Credit goes back after a quarter of our window (the nodes of a job
    // share one), at most 256 messages: a burst of small messages then
    // costs one credit message per 256, not per 16 (docs/benchmarks.md,
    // "Pipelined pushes"). A sender with a smaller window still
    // gets its credit at every heartbeat tick.
    c->threshold_messages =
        std::clamp<std::size_t>(opts_.window_messages / 4, 1, 256);
    c->threshold_bytes =
        std::clamp<std::size_t>(opts_.window_bytes / 4, 1, 1 << 20);
    consumed_[name] = std::move(c);
  }
  open_control();
  // Messages queued before start() are sent at once.
  waker_->ring();
  thread_ = std::thread([this] {
    loop_owner = this;
    try {
      run();
    } catch (const std::exception& e) {
      spdlog::error("{}: transport thread stopped: {}", opts_.node, e.what());
    }
    if (guest_)
      guest_->hand_off();
  });
}

void transport::send(const std::string& peer_name, outbound msg) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    commands_.push_back(command{peer_name, std::move(msg)});
    if (commands_.size() > 1)
      return; // already rung
  }
  waker_->ring();
}

void transport::stop(std::chrono::milliseconds drain) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!stopping_) {
      stopping_ = true;
      drain_deadline_ = clock_type::now() + drain;
    }
  }
  waker_->ring();
  if (thread_.joinable())
    thread_.join();
}

std::map<std::string, peer_state> transport::peer_states() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return states_;
}

std::vector<peer_report> transport::peer_reports() const {
  auto now = std::chrono::steady_clock::now();
  std::vector<peer_report> out;
  for (const auto& [name, p] : peers_) {
    peer_report r;
    r.name = name;
    r.endpoint = p->endpoint;
    r.state = p->state;
    r.queued = p->queue.size();
    r.in_flight = p->in_flight_messages;
    r.in_flight_bytes = p->in_flight_bytes;
    r.stalled = p->stalled;
    if (p->state != peer_state::waiting)
      r.silent_seconds =
          std::chrono::duration<double>(now - p->last_heard).count();
    out.push_back(std::move(r));
  }
  return out;
}

std::map<std::string, peer_traffic> transport::peer_traffic_reports() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return traffic_;
}

void transport::log_once(const std::string& who, const std::string& what,
                         const std::string& detail) {
  auto key = who + '\n' + what;
  if (logged_.emplace(key, true).second)
    spdlog::warn("{}: {} from/to '{}': {} (further ones are only counted)",
                 opts_.node, what, who, detail);
}

bool transport::take_commands() {
  // The two vectors trade places, so neither grows again from empty.
  auto& batch = taken_commands_;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    batch.swap(commands_);
  }
  if (batch.empty())
    return false;
  for (auto& cmd : batch) {
    auto i = peers_.find(cmd.peer);
    if (i == peers_.end()) {
      ++counters_.dropped_unroutable;
      log_once(cmd.peer, "message for unknown node dropped",
               std::string("kind ") + kind_name(cmd.msg.kind) + " for " +
                   cmd.msg.destination);
      continue;
    }
    if (i->second->state == peer_state::dead) {
      ++counters_.dropped_unroutable;
      log_once(cmd.peer, "message for dead node dropped",
               std::string("kind ") + kind_name(cmd.msg.kind) + " for " +
                   cmd.msg.destination);
      continue;
    }
    i->second->queue.push_back(std::move(cmd.msg));
  }
  batch.clear();
  for (auto& [name, p] : peers_)
    if (!p->queue.empty())
      flush(*p);
  return true;
}

void transport::flush(peer& p) {
  while (!p.queue.empty()) {
    auto& msg = p.queue.front();
    bool control = msg.is_control();
    if (!control && p.in_flight_messages > 0 &&
        (p.in_flight_messages >= opts_.window_messages ||
         p.in_flight_bytes + msg.wire_bytes() > opts_.window_bytes)) {
      if (!p.stalled) {
        p.stalled = true;
        ++counters_.credit_stalls;
      }
      return;
    }
    std::size_t count = control ? 1 : bundle_count(p);
    auto result = count > 1 ? send_bundle(p, count) : try_send(p, msg);
    if (result == send_result::would_block)
      return;
    for (std::size_t i = 0; i < count; ++i) {
      if (!control) {
        if (result == send_result::sent) {
          ++p.in_flight_messages;
          p.in_flight_bytes += p.queue.front().wire_bytes();
        }
        p.stalled = false;
      }
      p.queue.pop_front();
    }
  }
}

std::size_t transport::bundle_count(peer& p) {
  auto bundles = [](const outbound& m) {
    return !m.is_control() && m.attachment.size == 0 &&
           m.envelope.size() <= bundle::max_envelope_bytes;
  };
  std::size_t count = 0;
  std::uint64_t bytes = p.in_flight_bytes;
  while (count < p.queue.size() && count < bundle::max_envelopes) {
    const auto& m = p.queue[count];
    if (!bundles(m) ||
        (count > 0 && (p.in_flight_messages + count >= opts_.window_messages ||
                       bytes + m.wire_bytes() > opts_.window_bytes)))
      break;
    bytes += m.wire_bytes();
    ++count;
  }
  return std::max<std::size_t>(count, 1);
}

transport::send_result transport::send_bundle(peer& p, std::size_t count) {
  bundle_writer_.clear();
  for (std::size_t i = 0; i < count; ++i) {
    const auto& env = p.queue[i].envelope;
    bundle_writer_.add(env.data(), env.size());
  }
  const auto& bytes = bundle_writer_.bytes();
  try {
    zmq::message_t frame(bytes.data(), bytes.size());
    release_handoff();
    if (!p.dealer->send(frame, zmq::send_flags::dontwait))
      return send_result::would_block;
    ++counters_.frames_out;
    counters_.bytes_out += bytes.size();
    return send_result::sent;
  } catch (const zmq::error_t& e) {
    counters_.send_errors += count;
    log_once(p.name, "send failed; messages dropped", e.what());
    return send_result::failed;
  }
}

transport::send_result transport::try_send(peer& p, outbound& msg) {
  try {
    bool attached = msg.attachment.size > 0;
    auto env = envelope_frame(msg);
    release_handoff();
    auto flags = attached ? zmq::send_flags::sndmore | zmq::send_flags::dontwait
                          : zmq::send_flags::dontwait;
    if (!p.dealer->send(env, flags))
      return send_result::would_block;
    if (attached) {
      // ZeroMQ takes the rest of a message once its first frame is queued.
      auto att = attachment_frame(msg.attachment);
      release_handoff();
      if (!p.dealer->send(att, zmq::send_flags::dontwait))
        throw zmq::error_t();
    }
    ++counters_.frames_out;
    counters_.bytes_out += msg.wire_bytes();
    return send_result::sent;
  } catch (const zmq::error_t& e) {
    ++counters_.send_errors;
    log_once(p.name, "send failed; message dropped", e.what());
    return send_result::failed;
  }
}

void transport::receive() {
  std::vector<zmq::message_t> parts;
  parts.reserve(4);
  for (int n = 0; n < receive_batch; ++n) {
    parts.clear();
    std::optional<std::size_t> got;
    try {
      got = zmq::recv_multipart(*router_, std::back_inserter(parts),
                                zmq::recv_flags::dontwait);
    } catch (const zmq::error_t& e) {
      log_once("?", "receive failed", e.what());
      return;
    }
    if (!got)
      return;
    acquire_handoff();
    receive_message(parts);
  }
}

void transport::receive_message(std::vector<zmq::message_t>& parts) {
  std::string sender = parts[0].to_string();
  std::size_t bytes = 0;
  for (std::size_t i = 1; i < parts.size(); ++i)
    bytes += parts[i].size();
  ++counters_.frames_in;
  counters_.bytes_in += bytes;
  if (peers_.find(sender) == peers_.end()) {
    ++counters_.dropped_unknown_sender;
    // One log line for all strangers: their ids are the sender's choice.
    log_once("?", "message from an undeclared node dropped",
             "routing id '" + sender + "' (first of them)");
    return;
  }
  auto ci = consumed_.find(sender);
  static const std::shared_ptr<consumption> none;
  const auto& consumed = ci == consumed_.end() ? none : ci->second;
  if (parts.size() < 2 || parts.size() > 3) {
    reject(sender, consumed, bytes, rejection::malformed,
           "message with " + std::to_string(parts.size() - 1) +
               " frames (expected 1 or 2)");
    return;
  }
  const auto* first = parts[1].data<std::uint8_t>();
  if (parts.size() == 2 && bundle::is_bundle(first, parts[1].size())) {
    receive_bundle(sender, consumed, parts[1]);
    return;
  }
  std::optional<zmq::message_t> attachment;
  if (parts.size() == 3)
    attachment = std::move(parts[2]);
  rejection why = rejection::none;
  std::string error;
  auto msg = inbound::verify(std::move(sender), std::move(parts[1]),
                             std::move(attachment), opts_.max_message_bytes,
                             why, error);
  if (!msg) {
    reject(parts[0].to_string(), consumed, bytes, why, error);
    return;
  }
  accept(std::move(msg), consumed, bytes);
}

void transport::receive_bundle(const std::string& sender,
                               const std::shared_ptr<consumption>& consumed,
                               const zmq::message_t& frame) {
  std::string error;
  if (!bundle::split(frame.data<std::uint8_t>(), frame.size(), bundle_parts_,
                     error)) {
    reject(sender, consumed, frame.size(), rejection::malformed, error);
    return;
  }
  for (const auto& part : bundle_parts_) {
    auto msg = inbound::verify_small(sender, part.data, part.size, error);
    if (!msg) {
      reject(sender, consumed, part.size, rejection::malformed, error);
      continue;
    }
    accept(std::move(msg), consumed, part.size);
  }
}

void transport::reject(const std::string& sender,
                       const std::shared_ptr<consumption>& consumed,
                       std::size_t bytes, rejection why,
                       const std::string& error) {
  if (why == rejection::oversized) {
    ++counters_.dropped_oversized;
    log_once(sender, "oversized message dropped", error);
  } else {
    ++counters_.dropped_malformed;
    log_once(sender, "malformed message dropped", error);
  }
  if (consumed != nullptr)
    consumed->consume(bytes);
}

void transport::accept(std::shared_ptr<inbound> msg,
                       const std::shared_ptr<consumption>& consumed,
                       std::size_t bytes) {
  if (msg->destination().empty()) {
    // Credit and heartbeats never take credit from the sender's window,
    // so they must not return any either.
    bool control = msg->kind() == wire::Body::Credit ||
                   msg->kind() == wire::Body::Heartbeat;
    handle_transport_message(*msg);
    if (!control && consumed != nullptr)
      consumed->consume(bytes);
    return;
  }
  if (consumed != nullptr)
    msg->on_handled(consumed);
  const std::string& sender = msg->sender();
  inbound_ptr ptr = std::move(msg);
  auto kind = ptr->kind();
  // Kept for the log lines below: delivery may take the message away.
  auto keep = ptr;
  release_handoff();
  switch (deliver_(std::move(ptr))) {
  case delivery::delivered:
    break;
  case delivery::unknown_actor:
    ++counters_.dropped_misaddressed;
    log_once(sender, "message for unknown actor dropped",
             std::string("kind ") + kind_name(kind) + " for '" +
                 std::string(keep->destination()) + "'");
    break;
  case delivery::forged_source:
    ++counters_.dropped_forged;
    log_once(sender, "message with a forged source dropped",
             std::string("kind ") + kind_name(kind) + " from '" +
                 std::string(keep->source()) +
                 "', an actor that node does not host");
    break;
  }
}

void transport::handle_transport_message(const inbound& msg) {
  if (msg.kind() == wire::Body::Credit) {
    auto pi = peers_.find(msg.sender());
    if (pi == peers_.end())
      return;
    auto& p = *pi->second;
    const auto* credit = msg.envelope().body_as_Credit();
    p.in_flight_messages -= std::min(p.in_flight_messages, credit->messages());
    p.in_flight_bytes -= std::min(p.in_flight_bytes, credit->bytes());
    flush(p);
  } else if (msg.kind() == wire::Body::Heartbeat) {
    auto pi = peers_.find(msg.sender());
    if (pi == peers_.end())
      return;
    // Only its heartbeats say a peer is alive: anyone can send other frames
    // under its routing id until CURVE authenticates peers.
    auto& p = *pi->second;
    p.last_heard = clock_type::now();
    if (p.state != peer_state::alive)
      set_state(p, peer_state::alive);
    const auto* hb = msg.envelope().body_as_Heartbeat();
    std::lock_guard<std::mutex> guard{mtx_};
    traffic_[msg.sender()] = {hb->frames_in(), hb->frames_out(), hb->bytes_in(),
                              hb->bytes_out(), hb->dropped()};
  } else {
    ++counters_.dropped_misaddressed;
    log_once(msg.sender(), "message without destination dropped",
             kind_name(msg.kind()));
  }
}

void transport::return_credit(bool force) {
  for (auto& [name, c] : consumed_) {
    auto m = c->messages.load() - c->returned_messages.load();
    auto b = c->bytes.load() - c->returned_bytes.load();
    if (m == 0 ||
        (!force && m < c->threshold_messages && b < c->threshold_bytes))
      continue;
    envelope_builder builder(128);
    auto body = wire::CreateCredit(builder.fbb(), m, b);
    header h;
    h.source = opts_.node;
    auto msg = builder.finish(h, wire::Body::Credit, body.Union());
    c->returned_messages += m;
    c->returned_bytes += b;
    auto& p = *peers_.at(name);
    if (p.state == peer_state::dead)
      continue;
    p.queue.push_front(std::move(msg));
    flush(p);
  }
}

void transport::set_state(peer& p, peer_state s) {
  if (p.state == s)
    return;
  p.state = s;
  if (s == peer_state::dead) {
    counters_.dropped_unroutable += p.queue.size();
    p.queue.clear();
    p.in_flight_messages = 0;
    p.in_flight_bytes = 0;
    p.stalled = false;
  }
  {
    std::lock_guard<std::mutex> guard{mtx_};
    states_[p.name] = s;
  }
  if (s != peer_state::alive)
    spdlog::warn("{}: peer {} at {} is {}", opts_.node, p.name, p.endpoint,
                 to_string(s));
  if (on_peer_)
    on_peer_(p.name, s);
}

void transport::tick(clock_type::time_point now) {
  auto interval = opts_.heartbeat_interval;
  for (auto& [name, p] : peers_) {
    if (p->state == peer_state::waiting && now >= p->next_waiting_report) {
      if (p->next_waiting_report != clock_type::time_point{})
        spdlog::warn(
            "{}: still waiting for node {} at {} ({:.0f} s, no "
            "message received yet)",
            opts_.node, p->name, p->endpoint,
            std::chrono::duration<double>(now - p->waiting_since).count());
      p->next_waiting_report = now + opts_.waiting_report;
    }
    if (p->state == peer_state::alive || p->state == peer_state::suspect) {
      auto silent = now - p->last_heard;
      // Suspect comes first even when a late tick finds the peer past both.
      if (silent > interval * opts_.dead_after && p->state == peer_state::alive)
        set_state(*p, peer_state::suspect);
      if (silent > interval * opts_.dead_after)
        set_state(*p, peer_state::dead);
      else if (silent > interval * opts_.suspect_after)
        set_state(*p, peer_state::suspect);
    }
    if (p->state != peer_state::dead && now - p->last_heartbeat >= interval) {
      p->last_heartbeat = now;
      envelope_builder builder(256);
      auto node = builder.fbb().CreateString(opts_.node);
      auto body = wire::CreateHeartbeat(
          builder.fbb(), node, counters_.frames_in, counters_.frames_out,
          counters_.bytes_in, counters_.bytes_out, counters_.dropped());
      header h;
      h.source = opts_.node;
      p->queue.push_front(
          builder.finish(h, wire::Body::Heartbeat, body.Union()));
      flush(*p);
    }
  }
  return_credit(true);
}

bool transport::end_round() {
  // What this thread sent rang no wake-up (waker::ring); it leaves after
  // each turn, so that no reply waits for the next actor's turn.
  bool more =
      guest_ != nullptr && guest_->run_pending([this] { take_commands(); });
  take_commands();
  return_credit(false);
  return more;
}

void transport::run() {
  auto next_tick = clock_type::now();
  bool guest_busy = false;
  std::vector<zmq::pollitem_t> items;
  std::vector<peer*> polled;
  for (;;) {
    items.clear();
    polled.clear();
    items.push_back({router_->handle(), 0, ZMQ_POLLIN, 0});
    items.push_back({nullptr, waker_->fd, ZMQ_POLLIN, 0});
    if (monitor_)
      items.push_back({monitor_->handle(), 0, ZMQ_POLLIN, 0});
    std::size_t first_control = items.size();
    if (control_) {
      items.push_back({control_->handle(), 0, ZMQ_POLLIN, 0});
      items.push_back({zap_->handle(), 0, ZMQ_POLLIN, 0});
    }
    std::size_t first_peer = items.size();
    for (auto& [name, p] : peers_) {
      if (!p->queue.empty() && !p->stalled) {
        items.push_back({p->dealer->handle(), 0, ZMQ_POLLOUT, 0});
        polled.push_back(p.get());
      }
    }
    auto now = clock_type::now();
    auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - now);
    bool stopping;
    clock_type::time_point deadline;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stopping = stopping_;
      deadline = drain_deadline_;
    }
    if (stopping) {
      take_commands();
      bool drained = std::all_of(peers_.begin(), peers_.end(), [](auto& kv) {
        return kv.second->queue.empty();
      });
      if (drained || now >= deadline)
        break;
      wait = std::min(wait, std::chrono::milliseconds(10));
    }
    if (guest_busy)
      wait = std::chrono::milliseconds(0);
    try {
      zmq::poll(items, std::max(wait, std::chrono::milliseconds(0)));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR)
        log_once("?", "poll failed", e.what());
      continue;
    }
    if (items[1].revents & ZMQ_POLLIN) {
      waker_->drain();
      take_commands();
      return_credit(false);
    }
    if (monitor_ && (items[2].revents & ZMQ_POLLIN))
      watch_monitor();
    if (items[0].revents & ZMQ_POLLIN)
      receive();
    if (control_ && (items[first_control + 1].revents & ZMQ_POLLIN))
      answer_zap();
    if (control_ && (items[first_control].revents & ZMQ_POLLIN))
      serve_control();
    for (std::size_t i = 0; i < polled.size(); ++i)
      if (items[i + first_peer].revents & ZMQ_POLLOUT)
        flush(*polled[i]);
    guest_busy = end_round();
    now = clock_type::now();
    if (now >= next_tick) {
      tick(now);
      next_tick = now + opts_.heartbeat_interval;
    }
  }
  // Give what is still queued inside ZeroMQ a bounded time to leave.
  auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
      drain_deadline_ - clock_type::now());
  int linger = static_cast<int>(std::max<long>(0, remaining.count()));
  for (auto& [name, p] : peers_) {
    p->dealer->set(zmq::sockopt::linger, linger);
    p->dealer->close();
  }
  stop_monitor();
  close_control();
  router_->close();
}

} // namespace metronome::messages
