#include "actors/topology.hpp"

namespace metronome::actors {

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

} // namespace metronome::actors
