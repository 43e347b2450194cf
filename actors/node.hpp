#pragma once

#include "actors/core/control_service.hpp"
#include "actors/core/status_board.hpp"
#include "actors/core/topology.hpp"
#include "actors/transport_unit.hpp"
#include "messages/codec.hpp"
#include "messages/transport.hpp"

#include <caf/all.hpp>

#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

namespace metronome::actors {

using peer_down_atom = caf::atom_constant<caf::atom("peer_down")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
/// Sent to servers only, which under a cutoff stop waiting for the workers
/// of a suspect node and wait for them again once it is back.
using peer_suspect_atom = caf::atom_constant<caf::atom("suspect")>;
using peer_alive_atom = caf::atom_constant<caf::atom("alive")>;
/// Sent by the control endpoint to a worker (options.inspect: write): it
/// finishes its iteration and starts no other until resumed.
using pause_atom = caf::atom_constant<caf::atom("pause")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;
/// Sent by the control endpoint to a server: (id, table, begin, end), a
/// slice it keeps in its status as the answer to request id.
using table_read_atom = caf::atom_constant<caf::atom("tableread")>;
/// Sent by the control endpoint to the actor that takes a live knob
/// (options.inspect: write): (id, request as JSON text); the actor keeps
/// its answer in its status as the answer to request id.
using set_atom = caf::atom_constant<caf::atom("set")>;

/// The exit reason of an actor that stops because the job failed somewhere
/// else (a Control Abort, a dead coordinator): not a failure of its own.
constexpr auto aborted_elsewhere = caf::exit_reason::remote_link_unreachable;

/// Exit codes of a node process.
enum node_exit : int {
  node_finished = 0, ///< the job ended normally
  node_failed = 1,   ///< a local actor failed
  node_stopped = 3,  ///< stopped on request or because the job failed elsewhere
};

/// Applies metronome's scheduler settings to an actor system config: as
/// many threads as cores (at least two), and idle workers that wait on a
/// condition variable instead of sleep-polling, which would add tens of
/// microseconds to every message hop.
void configure_actor_system(caf::actor_system_config& cfg);

/// Routes encoded messages to the node that hosts their destination actor.
class postman {
public:
  postman(messages::transport& t, const topology& topo);

  /// Hands `msg` to the transport for the node hosting msg.destination.
  /// Thread-safe; unknown destinations are counted and dropped.
  void post(messages::outbound msg) const;

  /// The node hosting `actor`, or nullptr.
  const std::string* node_of(std::string_view actor) const;

  const messages::transport& transport() const { return transport_; }

private:
  messages::transport& transport_;
  std::map<std::string, std::string, std::less<>> node_of_;
};

/// What every role actor needs to talk to the rest of the job.
struct actor_env {
  std::string name;
  int index = 0;
  const topology* topo = nullptr;
  std::shared_ptr<const postman> post;
  /// Where the actor publishes its state for inspectors (never null; a
  /// node replaces it with an entry of its status board).
  std::shared_ptr<actor_status> status = std::make_shared<actor_status>();
};

/// How node endpoints are formed.
enum class endpoint_mode {
  tcp,    ///< each node binds tcp://host:port (separate processes)
  inproc, ///< every node in this process binds inproc://<name>
};

/// The endpoint a peer uses to reach `node` in `mode`.
std::string endpoint_of(const node_spec& node, endpoint_mode mode);

/// Whether `actor` (of `role`, on node `node`) runs on that node's
/// transport thread rather than on CAF's scheduler: a server when
/// options.server_thread says transport, and a data-parallel worker when
/// options.worker_thread says transport and it is its node's only worker
/// and either its only actor or in a job whose every table is BSP (while
/// it computes, what the actors beside it send waits; under BSP no commit
/// could happen before its push anyway).
bool runs_on_transport(const topology& topo, const node_spec& node,
                       const std::string& role);

/// One node of a topology: its transport and the actors it hosts.
///
/// Several nodes may share one actor system and ZeroMQ context (a whole job
/// in one process); each still talks to the others only through its
/// transport, with the same encoding and verification as over tcp.
class node {
public:
  node(caf::actor_system& sys, zmq::context_t& ctx, const topology& topo,
       const std::string& name, endpoint_mode mode);
  ~node();

  /// Hosts `a` under `name` (an actor of this node in the topology that is
  /// not a built-in role); call before start().
  void add_actor(const std::string& name, caf::actor a);

  /// Binds the transport, spawns the local actors and announces them to the
  /// coordinator. Throws std::runtime_error with a clear message on failure.
  void start();

  /// Blocks until every local actor has finished, then stops the transport.
  /// Returns a node_exit code.
  int wait();

  /// Asks every local actor to stop (used on signals); thread-safe.
  void abort(const std::string& reason);

  /// Calls `f` with a reason when a local actor fails; set before start().
  void on_failure(std::function<void(const std::string&)> f) {
    on_failure_ = std::move(f);
  }

  const std::string& name() const { return name_; }
  messages::transport& transport() { return *transport_; }
  const status_board& board() const { return board_; }

private:
  messages::transport::delivery deliver(messages::inbound_ptr msg);
  void on_peer(const std::string& peer, messages::peer_state state);
  bool steer(const std::string& actor, bool pause);
  bool read_table(const control_service::table_read& read);
  bool pass_setting(const std::string& actor, std::uint64_t id,
                    const std::string& request);
  caf::actor spawn_role(const std::string& actor,
                        std::shared_ptr<actor_status> status);
  void report_failure(const caf::actor_addr& who, const std::string& reason,
                      bool own_failure);

  caf::actor_system& sys_;
  const topology& topo_;
  std::string name_;
  endpoint_mode mode_;
  transport_unit unit_; ///< runs the servers on the transport thread
  std::unique_ptr<messages::transport> transport_;
  std::shared_ptr<const postman> post_;
  mutable std::shared_mutex registry_mtx_;
  struct hosted {
    caf::actor handle;
    std::shared_ptr<actor_status> status;
  };
  status_board board_;
  std::unique_ptr<control_service> control_;
  std::map<std::string, hosted, std::less<>> registry_;
  std::vector<caf::actor> actors_; // guarded by registry_mtx_
  std::string abort_reason_;       // guarded by registry_mtx_
  std::function<void(const std::string&)> on_failure_;
};

} // namespace metronome::actors
