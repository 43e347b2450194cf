#include "actors/core/topology.hpp"

#include "algorithms/program.hpp"

namespace metronome::actors {

bool scheduled_job(const job_spec& job) {
  const auto* p = algorithms::find_program(job.algorithm);
  if (p == nullptr || p->paced != algorithms::pacing::scheduled)
    return false;
  return job.algorithm != "lda" || job.lda.parallel != "data";
}

const std::vector<std::string>& role_names() {
  static const std::vector<std::string> names = {
      "coordinator", "server", "worker", "scheduler", "predictor"};
  return names;
}

std::uint16_t default_control_port(std::uint16_t port) {
  constexpr int offset = 10000;
  return static_cast<std::uint16_t>(port + offset <= 65535 ? port + offset
                                                           : port - offset);
}

std::size_t topology::count(const std::string& role) const {
  std::size_t n = 0;
  for (const auto& node : nodes)
    for (const auto& a : node.actors)
      if (a.compare(0, role.size(), role) == 0 && a.size() > role.size() &&
          a[role.size()] == '/')
        ++n;
  return n;
}

const node_spec* topology::node_of(const std::string& actor) const {
  for (const auto& node : nodes)
    for (const auto& a : node.actors)
      if (a == actor)
        return &node;
  return nullptr;
}

const node_spec* topology::find_node(const std::string& name) const {
  for (const auto& node : nodes)
    if (node.name == name)
      return &node;
  return nullptr;
}

std::vector<std::string> topology::all_actors() const {
  std::vector<std::string> result;
  for (const auto& node : nodes)
    result.insert(result.end(), node.actors.begin(), node.actors.end());
  return result;
}

std::vector<std::size_t> topology::workers_on(const std::string& name) const {
  std::vector<std::size_t> out;
  if (const auto* node = find_node(name))
    for (const auto& a : node->actors)
      if (a.rfind("worker/", 0) == 0)
        out.push_back(std::stoul(a.substr(7)));
  return out;
}

bool topology::only_workers_on(const std::string& name) const {
  const auto* node = find_node(name);
  return node != nullptr && !node->actors.empty() &&
         workers_on(name).size() == node->actors.size();
}

} // namespace metronome::actors
