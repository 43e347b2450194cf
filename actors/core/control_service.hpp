#pragma once

#include "actors/core/status_board.hpp"
#include "actors/core/topology.hpp"
#include "messages/transport.hpp"

#include <string>

namespace metronome::actors {

/// The version of the control protocol this build speaks; requests carry
/// it as "v" and are refused when it differs.
constexpr int control_protocol_version = 1;

/// Answers the control requests of one node: what its status board holds
/// and what its transport sees (docs/inspect.md describes the protocol).
///
/// Runs on the transport thread and reads only published state, so a busy
/// or stuck actor is still described.
class control_service {
public:
  control_service(const topology& topo, std::string node,
                  const status_board& board, const messages::transport& t);

  /// The reply (JSON text) to `request`; every request gets one, an error
  /// reply naming what is wrong when it is not a valid request.
  std::string answer(const std::string& request) const;

private:
  nlohmann::ordered_json status() const;
  nlohmann::ordered_json peers() const;

  const topology& topo_;
  std::string node_;
  const status_board& board_;
  const messages::transport& transport_;
};

} // namespace metronome::actors
