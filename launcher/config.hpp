#pragma once

#include "actors/core/topology.hpp"

#include <yaml-cpp/yaml.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace metronome::launcher {

/// Every problem found in a topology file, one "file:line:column: what
/// (hint)" line each, in file order.
class config_error : public std::runtime_error {
public:
  explicit config_error(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const { return problems_; }

private:
  std::vector<std::string> problems_;
};

/// Checks that depend on what the topology is loaded for.
struct load_options {
  /// Also check that the port of every node on this machine can be bound
  /// right now ("port N on HOST is already in use"), as `launch` needs
  /// before it starts anything. Off for `run` (inproc endpoints) and for
  /// `node` (the other nodes of the job may already be listening).
  bool check_ports_free = false;
};

/// True when `host` resolves to this machine (a loopback address, 0.0.0.0
/// or an address of one of its interfaces).
bool is_local_host(const std::string& host);

/// Reads and validates a YAML topology file: syntax, keys, types and
/// ranges, node and actor names, role counts and indices, hosts (each must
/// resolve to an IPv4 address; loopback hosts cannot be mixed with other
/// machines), port clashes per machine, data files (present, readable, with
/// a valid IDX or LIBSVM header, enough training samples for every worker)
/// and options. Relative data and key paths are resolved against the
/// directory of the file. Throws config_error listing every problem at once.
actors::topology load_topology(const std::string& path,
                               const load_options& options = {});

/// Validates a topology already parsed into `root` as load_topology() does;
/// `path` names it in problems and relative paths start at its directory.
/// Relative data, trace, model and key paths in `root` are rewritten as
/// absolute ones, so that `root` emitted elsewhere names the same files.
actors::topology load_topology_tree(YAML::Node root, const std::string& path,
                                    const load_options& options = {});

} // namespace metronome::launcher
