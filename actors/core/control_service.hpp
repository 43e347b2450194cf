#pragma once

#include "actors/core/status_board.hpp"
#include "actors/core/topology.hpp"
#include "messages/transport.hpp"

#include <cstdint>
#include <functional>
#include <set>
#include <string>

namespace metronome::actors {

/// The version of the control protocol this build speaks; requests carry
/// it as "v" and are refused when it differs.
constexpr int control_protocol_version = 1;

/// The most values one table request reads.
constexpr std::uint64_t max_slice_values = 4096;

/// Answers the control requests of one node: what its status board holds
/// and what its transport sees (docs/inspect.md describes the protocol).
///
/// Runs on the transport thread and reads only published state, so a busy
/// or stuck actor is still described; pause, resume and table reads only
/// send the actor a message, and a table's values come back through the
/// server's status.
class control_service {
public:
  /// Hands actor `name` of this node a pause (true) or a resume (false);
  /// false when no such actor runs here. Called on the transport thread, so
  /// it may only send the actor a message.
  using steer_fn = std::function<bool(const std::string& name, bool pause)>;

  /// A slice [begin, end) of table `table` that server `server` is asked to
  /// read and keep in its status as the answer to request `id`.
  struct table_read {
    std::uint64_t id = 0;
    std::string server;
    std::string table;
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
  };
  /// Sends a server of this node a table_read; false when it does not run
  /// here. Called on the transport thread, like steer_fn.
  using read_fn = std::function<bool(const table_read& read)>;

  /// Hands actor `name` of this node a `set` request (its JSON text) whose
  /// answer it keeps as request `id`; false when it does not run here.
  using set_fn = std::function<bool(const std::string& name, std::uint64_t id,
                                    const std::string& request)>;

  control_service(const topology& topo, std::string node,
                  const status_board& board, const messages::transport& t,
                  steer_fn steer = {}, read_fn read = {}, set_fn set = {});

  /// The reply (JSON text) to `request`; every request gets one, an error
  /// reply naming what is wrong when it is not a valid request.
  std::string answer(const std::string& request);

private:
  nlohmann::ordered_json status() const;
  nlohmann::ordered_json peers() const;
  nlohmann::ordered_json steer(const nlohmann::ordered_json& request);
  std::string refuse_steering(const std::string& op,
                              const std::string& name) const;
  nlohmann::ordered_json read_table(const nlohmann::ordered_json& request);
  nlohmann::ordered_json take(const nlohmann::ordered_json& request) const;
  std::string refuse_reading(const std::string& name) const;
  std::string refuse_asking(const std::string& name) const;
  nlohmann::ordered_json set(const nlohmann::ordered_json& request);
  std::string refuse_setting(const nlohmann::ordered_json& request) const;

  const topology& topo_;
  std::string node_;
  const status_board& board_;
  const messages::transport& transport_;
  steer_fn steer_;
  read_fn read_;
  set_fn set_;
  std::set<std::string> paused_; // workers paused through this endpoint
  std::uint64_t asked_ = 0;      // table reads and settings asked for so far
};

} // namespace metronome::actors
