#pragma once

#include "launcher/inspect/client.hpp"

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace metronome::launcher::inspect {

/// A node's liveness as inspect judges it: "alive" (its endpoint answers),
/// "dead" (no answer, and its peers have not heard from it for a while or
/// none answers either), "unreachable" (no answer, but its peers hear it:
/// an endpoint that is off, refuses us or is on another machine).
struct liveness {
  std::string state;
  std::string detail; ///< e.g. "no answer at 127.0.0.1:34104; silent 2.1 s"
};

/// One look at a whole job: every node's answer to a status request.
struct job_view {
  std::vector<answer> nodes;
  std::chrono::steady_clock::time_point taken;
  /// Published state of every actor of the answering nodes, by name.
  std::map<std::string, json> actors;
  /// The node of every actor of the job, answering or not.
  std::map<std::string, std::string> node_of;

  /// The answer of node `name`, or nullptr.
  const answer* find(const std::string& name) const;
  /// Whether node `name` answered.
  bool answered(const std::string& name) const;
  /// The liveness of node `name`.
  liveness judge(const std::string& name) const;
  /// Every actor name of the job, in order.
  std::vector<std::string> actor_names() const;
};

/// Builds a view from answers; `hosted` maps each node to its actors (from
/// the topology or the peers' replies) for the nodes that do not answer.
job_view
make_view(std::vector<answer> nodes,
          const std::map<std::string, std::vector<std::string>>& hosted);

/// One line of what an actor waits for ("waits for clock >= 12 of table
/// all on server/0 (1.2 s)"), or "" when it waits for nothing.
std::string describe_wait(const json& actor);

/// The result of one command: lines for people, or a JSON object.
struct result {
  bool ok = true;
  std::string error;
  std::vector<std::string> lines;
  json data = json::object();
};

/// `why`: the wait-for graph of `later` in protocol terms, each cause
/// judged dead, unreachable, paused (by inspect), slow (it progressed
/// since `earlier`) or stuck (it did not).
result explain(const job_view& earlier, const job_view& later);

} // namespace metronome::launcher::inspect
