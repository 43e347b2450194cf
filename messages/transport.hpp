#pragma once

#include "messages/bundle.hpp"
#include "messages/codec.hpp"

#include <zmq.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace metronome::messages {

/// Settings of one node's transport.
struct transport_options {
  /// This node's name; peers see it as the routing id of our connections.
  std::string node;
  /// Endpoints the inbound ROUTER binds (tcp://host:port, inproc://name).
  std::vector<std::string> bind;
  /// Largest message (all frames) accepted; larger ones are dropped. It is
  /// also ZeroMQ's ZMQ_MAXMSGSIZE, per frame: a frame over it is never read
  /// whole, ZeroMQ closes the connection it came on.
  std::size_t max_message_bytes = std::size_t{1} << 30;
  /// Inbound tcp connections open at once; one accepted beyond that is
  /// closed at once. 0: 4 per declared peer plus 32.
  std::size_t max_connections = 0;
  /// Messages and bytes that may be sent to one peer and not yet taken up
  /// by its actors (inbound::handled()); further messages wait in our
  /// queue. This bounds what waits in the peer's mailboxes. A receiver
  /// returns credit once its actors have handled a quarter of its own
  /// window (at most 256 messages or 1 MiB), and at every heartbeat.
  std::size_t window_messages = 1024;
  std::size_t window_bytes = std::size_t{256} << 20;
  /// Every peer gets a heartbeat this often; a peer silent for
  /// suspect_after (dead_after) intervals is suspect (dead).
  std::chrono::milliseconds heartbeat_interval{250};
  int suspect_after = 4;
  int dead_after = 40;
  /// A peer never heard from is reported ("still waiting for node N at
  /// ENDPOINT") after this long, and again each time as long again passes.
  std::chrono::milliseconds waiting_report{5000};
  /// The control endpoint: a ROUTER bound here (tcp://127.0.0.1:PORT)
  /// answers inspection requests through the control handler; empty: none.
  std::string control_bind;
  /// Control requests larger than this get an error reply; frames larger
  /// than 16 times this close the client's connection unread.
  std::size_t max_control_bytes = std::size_t{64} << 10;
};

/// `n` distinct tcp ports on the loopback interface that were free a moment
/// ago (for tests, benchmarks and experiments that start nodes on this
/// machine), drawn at random below the ephemeral port range; throws
/// std::runtime_error when not enough are found.
std::vector<std::uint16_t> free_tcp_ports(std::size_t n);

/// The address a node on `host` binds its tcp port to: `host` itself when it
/// is an IP address, the loopback address it resolves to when it resolves
/// to loopback addresses only (`localhost` and `127.1` give 127.0.0.1), and
/// "*" (every interface) otherwise, since ZeroMQ binds no host names.
std::string bind_address(const std::string& host);

/// The endpoint a node on `host` binds for tcp `port`, e.g.
/// "tcp://127.0.0.1:7000" for localhost (see bind_address()).
std::string tcp_bind_endpoint(const std::string& host, std::uint16_t port);

/// What the transport knows about a peer's liveness.
enum class peer_state { waiting, alive, suspect, dead };
const char* to_string(peer_state s);

/// Traffic counters a peer last reported in its heartbeat.
struct peer_traffic {
  std::uint64_t frames_in = 0;
  std::uint64_t frames_out = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t dropped = 0;
};

/// The transport's view of one peer, for the control handler.
struct peer_report {
  std::string name;
  std::string endpoint;
  peer_state state = peer_state::waiting;
  std::size_t queued = 0;      ///< messages waiting in our queue
  std::uint64_t in_flight = 0; ///< sent, not yet taken up by its actors
  std::uint64_t in_flight_bytes = 0;
  bool stalled = false;       ///< its credit window is full
  double silent_seconds = -1; ///< since we last heard it; -1: never
};

/// Counters of one transport, safe to read from any thread.
struct transport_counters {
  std::atomic<std::uint64_t> frames_in{0};
  std::atomic<std::uint64_t> frames_out{0};
  std::atomic<std::uint64_t> bytes_in{0};
  std::atomic<std::uint64_t> bytes_out{0};
  std::atomic<std::uint64_t> dropped_malformed{0};
  std::atomic<std::uint64_t> dropped_oversized{0};
  std::atomic<std::uint64_t> dropped_misaddressed{0};
  std::atomic<std::uint64_t> dropped_unknown_sender{0};
  std::atomic<std::uint64_t> dropped_forged{0};
  std::atomic<std::uint64_t> dropped_unroutable{0};
  std::atomic<std::uint64_t> send_errors{0};
  std::atomic<std::uint64_t> credit_stalls{0};
  /// Inbound tcp connections accepted, closed (by either side) and closed
  /// by us because they were over the cap (max_connections).
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_closed{0};
  std::atomic<std::uint64_t> connections_refused{0};

  std::uint64_t dropped() const {
    return dropped_malformed + dropped_oversized + dropped_misaddressed +
           dropped_unknown_sender + dropped_forged + dropped_unroutable;
  }
};

/// Work a transport thread runs between its polls, on that thread: the
/// actors a node hosts there (actors/transport_unit.hpp). What it
/// sends through transport::send() leaves after the turn that sent it,
/// without a wake-up; while it runs, the sockets wait, so it must keep each
/// call short.
class thread_guest {
public:
  virtual ~thread_guest() = default;
  /// Runs a bounded share of what is pending, calling `after_turn` (when
  /// set) after each turn; true when more is pending.
  virtual bool run_pending(const std::function<void()>& after_turn) = 0;
  /// Called once on the transport thread as it ends: hands what is still
  /// pending to threads that go on running.
  virtual void hand_off() = 0;
};

/// Moves encoded messages between nodes over ZeroMQ.
///
/// One thread owns every socket: a ROUTER bound for inbound traffic and one
/// DEALER per peer for outbound traffic. Any thread may call send(); inbound
/// messages are verified on the transport thread and handed to the deliver
/// callback there. Network errors are counted and logged, never fatal.
/// Messages are accepted only from declared peers, identified by the
/// routing id they connect with (no cryptographic authentication yet).
/// Inbound tcp connections are counted with a ZeroMQ socket monitor and
/// capped (transport_options::max_connections).
class transport {
public:
  /// What the deliver callback did with a message.
  enum class delivery {
    delivered,
    unknown_actor, ///< no such local actor
    forged_source, ///< the sending node does not host the source actor
  };

  /// Called on the transport thread for each verified inbound message
  /// addressed to an actor.
  using deliver_fn = std::function<delivery(inbound_ptr)>;
  /// Called on the transport thread when a peer's liveness changes.
  using peer_fn = std::function<void(const std::string&, peer_state)>;
  /// Called on the transport thread for each control request (its body,
  /// at most max_control_bytes); returns the reply body. An exception is
  /// answered as an error reply.
  using control_fn = std::function<std::string(const std::string&)>;

  transport(zmq::context_t& ctx, transport_options opts);
  ~transport();

  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;

  /// Declares node `name` reachable at `endpoint`; call before start().
  void add_peer(const std::string& name, const std::string& endpoint);

  /// Sets what answers control requests; call before start().
  void on_control(control_fn f) { on_control_ = std::move(f); }

  /// Binds, connects and starts the transport thread. Throws
  /// std::runtime_error naming the endpoint when binding or connecting fails.
  /// A control endpoint that cannot be bound is logged and left out: the
  /// job runs without it. `guest`, when given, runs on the transport thread
  /// (see thread_guest) and must outlive stop().
  void start(deliver_fn deliver, peer_fn on_peer = {},
             thread_guest* guest = nullptr);

  /// Queues `msg` for node `peer`. Thread-safe and never blocks.
  void send(const std::string& peer, outbound msg);

  /// Sends what is queued (waiting at most `drain`), closes every socket and
  /// joins the thread. Idempotent.
  void stop(std::chrono::milliseconds drain = std::chrono::seconds(2));

  const transport_counters& counters() const { return counters_; }
  const std::string& node() const { return opts_.node; }

  /// The tcp endpoints bound, as ZeroMQ reports them once start() returned
  /// ("tcp://127.0.0.1:7000", "tcp://0.0.0.0:7000" for every interface).
  const std::vector<std::string>& bound_endpoints() const { return bound_; }

  /// Liveness of every declared peer.
  std::map<std::string, peer_state> peer_states() const;

  /// The traffic counters each peer reported in its latest heartbeat.
  std::map<std::string, peer_traffic> peer_traffic_reports() const;

  /// The control endpoint bound ("tcp://127.0.0.1:34100"), or empty.
  const std::string& control_endpoint() const { return control_bound_; }

  /// Every peer's queue, credit and liveness. Only on the transport thread
  /// (from the control handler): the queues are its own.
  std::vector<peer_report> peer_reports() const;

private:
  struct peer;
  struct consumption;
  struct waker;
  struct command {
    std::string peer;
    outbound msg;
  };

  void run();
  bool end_round();
  bool take_commands();
  enum class send_result { sent, would_block, failed };
  void flush(peer& p);
  // How many messages at the front of p's queue go out as one bundle
  // (bundle.hpp): small ones with credit for each; 1 when not bundled.
  std::size_t bundle_count(peer& p);
  send_result send_bundle(peer& p, std::size_t count);
  send_result try_send(peer& p, outbound& msg);
  void receive();
  void receive_message(std::vector<zmq::message_t>& parts);
  void receive_bundle(const std::string& sender,
                      const std::shared_ptr<consumption>& consumed,
                      const zmq::message_t& frame);
  void reject(const std::string& sender,
              const std::shared_ptr<consumption>& consumed, std::size_t bytes,
              rejection why, const std::string& error);
  void accept(std::shared_ptr<inbound> msg,
              const std::shared_ptr<consumption>& consumed, std::size_t bytes);
  void handle_transport_message(const inbound& msg);
  void return_credit(bool force);
  void tick(std::chrono::steady_clock::time_point now);
  void set_state(peer& p, peer_state s);
  void start_monitor();
  void bind_router();
  void watch_monitor();
  void stop_monitor();
  void refuse_connection(int fd);
  void log_once(const std::string& who, const std::string& what,
                const std::string& detail);
  void open_control();
  void serve_control();
  void answer_zap();
  void close_control();

  zmq::context_t& ctx_;
  transport_options opts_;
  transport_counters counters_;
  deliver_fn deliver_;
  peer_fn on_peer_;
  control_fn on_control_;
  thread_guest* guest_ = nullptr;
  std::unique_ptr<zmq::socket_t> control_;
  std::unique_ptr<zmq::socket_t> zap_;
  std::string control_bound_;

  std::unique_ptr<zmq::socket_t> router_;
  std::unique_ptr<zmq::socket_t> monitor_;
  std::vector<std::string> bound_;
  std::vector<std::uint16_t> listen_ports_;
  std::set<int> connections_; ///< descriptors of open inbound connections
  std::size_t max_connections_ = 0;
  bool cap_logged_ = false;
  std::map<std::string, std::unique_ptr<peer>> peers_;
  std::map<std::string, std::shared_ptr<consumption>> consumed_;

  mutable std::mutex mtx_;
  std::vector<command> commands_;
  std::vector<command> taken_commands_; ///< the transport thread's batch
  std::map<std::string, peer_state> states_;
  std::map<std::string, peer_traffic> traffic_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point drain_deadline_;

  std::shared_ptr<const waker> waker_;
  std::thread thread_;
  std::map<std::string, bool> logged_;
  bundle::writer bundle_writer_;           ///< the transport thread's
  std::vector<bundle::part> bundle_parts_; ///< the transport thread's
};

} // namespace metronome::messages
