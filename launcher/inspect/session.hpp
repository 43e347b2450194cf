#pragma once

#include "launcher/inspect/client.hpp"
#include "launcher/inspect/commands.hpp"
#include "launcher/inspect/view.hpp"

#include <map>
#include <string>
#include <vector>

namespace metronome::launcher::inspect {

/// Exit codes of `metronome inspect`.
enum inspect_exit : int {
  inspect_ok = 0,     ///< every command succeeded
  inspect_failed = 1, ///< a command failed, or no node of the job answers
  inspect_usage = 2,  ///< bad options, target, script or command
};

/// An inspector attached to one job: its endpoints, and the commands run
/// against them.
class session {
public:
  session(double timeout_seconds, bool json_output);

  /// Attaches to the job of topology file `path`, or the job of the node
  /// answering at HOST:PORT `target`. Prints why not and returns an exit
  /// code (inspect_ok when attached).
  int attach(const std::string& target);

  /// Runs one checked command, printing its result; returns an exit code.
  int run(const std::vector<std::string>& words);

  /// The names a word may be completed to: commands, knobs, actors, nodes
  /// and tables (asked of the job once, when first needed).
  std::vector<std::string> words();

private:
  job_view look();
  result dispatch(const std::vector<std::string>& words);
  void print(const std::string& command, const result& r) const;
  result nodes();
  result actors(const std::string& filter);
  result actor(const std::string& name);
  result clocks();
  result queues();
  result staleness();
  result steer(const std::string& op, const std::string& name);
  result table(const std::string& name, const std::string& range);
  result read_part(const std::string& server, const std::string& table,
                   std::uint64_t begin, std::uint64_t end);
  result ask_node(const std::string& node, const json& request);
  result await_answer(const std::string& node, const std::string& actor,
                      std::uint64_t id, const std::string& late);
  result set(const std::vector<std::string>& words);
  result cutoff();
  json follow_change(const std::string& node, const json& change);
  std::string node_of(const std::string& actor) const;
  result why();
  result watch(const std::vector<std::string>& words);

  control_client client_;
  bool json_;
  std::vector<endpoint> endpoints_;
  std::map<std::string, std::vector<std::string>> hosted_;
  std::vector<std::string> tables_; // for completion, once known
};

} // namespace metronome::launcher::inspect
