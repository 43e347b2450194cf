#include "launcher/inspect/view.hpp"

#include "launcher/inspect/commands.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace metronome::launcher::inspect {

namespace {

std::vector<std::string> strings(const json& list) {
  std::vector<std::string> out;
  if (list.is_array())
    for (const auto& s : list)
      if (s.is_string())
        out.push_back(s.get<std::string>());
  return out;
}

// "clock >= 12 of table all" / "table all" / "".
std::string what_of(const json& item) {
  std::string table = item.value("table", std::string());
  auto clock = item.value("clock", std::int64_t{-1});
  std::string out;
  if (clock >= 0)
    out = "clock >= " + std::to_string(clock);
  if (!table.empty())
    out += (out.empty() ? "table " : " of table ") + table;
  return out;
}

} // namespace

const answer* job_view::find(const std::string& name) const {
  for (const auto& a : nodes)
    if (a.at.node == name)
      return &a;
  return nullptr;
}

bool job_view::answered(const std::string& name) const {
  const auto* a = find(name);
  return a != nullptr && a->answered && a->error.empty();
}

liveness job_view::judge(const std::string& name) const {
  const auto* own = find(name);
  if (own != nullptr && own->answered && own->error.empty())
    return {"alive", "answers at " + own->at.text()};
  std::string heard = "none of its peers answers either";
  bool silent = true;
  double least = -1;
  for (const auto& a : nodes) {
    if (a.at.node == name || !a.answered || !a.error.empty())
      continue;
    for (const auto& p : a.reply.value("peers", json::array())) {
      if (p.value("name", std::string()) != name)
        continue;
      auto state = p.value("state", std::string("?"));
      auto s = p.value("silent_s", -1.0);
      if (state == "alive")
        silent = false;
      if (least < 0 || (s >= 0 && s < least))
        least = s;
      heard = least < 0 ? "its peers have never heard from it"
                        : fmt::format("its peers see it {} (silent {:.1f} s)",
                                      state, least);
    }
  }
  std::string where = own != nullptr ? own->error : "no endpoint known";
  return {silent ? "dead" : "unreachable", where + "; " + heard};
}

std::vector<std::string> job_view::actor_names() const {
  std::vector<std::string> out;
  for (const auto& [actor, node] : node_of)
    out.push_back(actor);
  return out;
}

job_view
make_view(std::vector<answer> nodes,
          const std::map<std::string, std::vector<std::string>>& hosted) {
  job_view v;
  v.taken = std::chrono::steady_clock::now();
  v.nodes = std::move(nodes);
  for (const auto& [node, actors] : hosted)
    for (const auto& a : actors)
      v.node_of[a] = node;
  for (const auto& a : v.nodes) {
    if (!a.answered || !a.error.empty())
      continue;
    for (const auto& actor : a.reply.value("actors", json::array())) {
      auto name = actor.value("name", std::string());
      if (name.empty())
        continue;
      v.actors[name] = actor;
      v.node_of[name] = a.at.node;
    }
  }
  return v;
}

std::string describe_wait(const json& actor) {
  auto waits = actor.find("waits");
  if (waits == actor.end())
    return {};
  auto kind = waits->value("for", std::string());
  auto since = waits->value("since_s", 0.0);
  std::vector<std::string> parts;
  for (const auto& item : waits->value("items", json::array())) {
    auto on = joined(strings(item.value("on", json::array())));
    auto what = what_of(item);
    if (kind == "read")
      parts.push_back("waits for " + what + " on " + on);
    else if (kind == "updates")
      parts.push_back("holds reads until " + what +
                      (on.empty() ? "" : "; behind: " + on));
    else if (kind == "hello")
      parts.push_back("waits for hello from " + on);
    else if (kind == "version")
      parts.push_back("waits for version " + what.substr(9) + " from " + on);
    else if (kind == "round")
      parts.push_back("waits for round " + what.substr(9) + " from " + on);
    else
      parts.push_back("waits for " + kind + " " + what + " on " + on);
  }
  return joined(parts) + fmt::format(" ({:.1f} s)", since);
}

namespace {

// Edges of the wait-for graph: who waits on whom, for at least `window`
// seconds (shorter waits are the normal back and forth of a job).
std::map<std::string, std::vector<std::string>> wait_graph(const job_view& v,
                                                           double window) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [name, actor] : v.actors) {
    auto waits = actor.find("waits");
    if (waits == actor.end() || waits->value("since_s", 0.0) < window)
      continue;
    for (const auto& item : waits->value("items", json::array()))
      for (const auto& on : strings(item.value("on", json::array())))
        if (on != name)
          out[name].push_back(on);
  }
  return out;
}

// How `name`, which waits for nothing, is doing.
std::pair<std::string, std::string> judge_cause(const job_view& earlier,
                                                const job_view& later,
                                                const std::string& name) {
  auto node = later.node_of.count(name) ? later.node_of.at(name) : "?";
  if (!later.answered(node)) {
    auto l = later.judge(node);
    return {l.state, "node " + node + " " + l.state + ": " + l.detail};
  }
  auto now = later.actors.find(name);
  if (now == later.actors.end())
    return {"unknown", "node " + node + " does not list it"};
  auto before = earlier.actors.find(name);
  auto clock = now->second.value("clock", std::int64_t{-1});
  auto phase = now->second.value("phase", std::string());
  if (phase == "paused")
    return {"paused",
            fmt::format("paused by inspect before clock {}, for {:.1f} s; "
                        "`resume {}` lets it go on",
                        clock, now->second.value("phase_s", 0.0), name)};
  double window =
      std::chrono::duration<double>(later.taken - earlier.taken).count();
  if (before != earlier.actors.end()) {
    auto was = before->second.value("clock", std::int64_t{-1});
    if (was != clock || before->second.value("phase", "") != phase)
      return {"slow", fmt::format("progressing: clock {} -> {} in {:.1f} s, "
                                  "now {}",
                                  was, clock, window, phase)};
  }
  return {"stuck",
          fmt::format("no progress in {:.1f} s: {} at clock {} for {:.1f} s",
                      window, phase, clock, now->second.value("phase_s", 0.0))};
}

// The actors `from` waits on, directly or not, that wait for nothing; a
// path back to an actor on the way is a cycle.
void find_causes(const std::map<std::string, std::vector<std::string>>& g,
                 const std::string& from, std::vector<std::string>& path,
                 std::set<std::string>& causes,
                 std::set<std::vector<std::string>>& cycles) {
  auto edges = g.find(from);
  if (edges == g.end()) {
    causes.insert(from);
    return;
  }
  path.push_back(from);
  for (const auto& to : edges->second) {
    auto loop = std::find(path.begin(), path.end(), to);
    if (loop != path.end()) {
      std::vector<std::string> cycle(loop, path.end());
      std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()),
                  cycle.end());
      cycles.insert(cycle);
      continue;
    }
    find_causes(g, to, path, causes, cycles);
  }
  path.pop_back();
}

} // namespace

result explain(const job_view& earlier, const job_view& later) {
  result r;
  double window =
      std::chrono::duration<double>(later.taken - earlier.taken).count();
  auto g = wait_graph(later, window);
  std::map<std::string, std::set<std::string>> waited_by;
  std::set<std::vector<std::string>> cycles;
  json waits = json::array();
  for (const auto& [name, edges] : g) {
    const auto& actor = later.actors.at(name);
    r.lines.push_back(name + " " + describe_wait(actor));
    waits.push_back({{"actor", name}, {"waits", actor.at("waits")}});
    std::vector<std::string> path;
    std::set<std::string> causes;
    find_causes(g, name, path, causes, cycles);
    for (const auto& c : causes)
      waited_by[c].insert(name);
  }
  json causes = json::array();
  std::set<std::string> named;
  for (const auto& [cause, waiters] : waited_by) {
    auto [state, detail] = judge_cause(earlier, later, cause);
    if (later.node_of.count(cause))
      named.insert(later.node_of.at(cause));
    std::vector<std::string> who(waiters.begin(), waiters.end());
    r.lines.push_back("=> " + cause + " is " + state + " (" + detail +
                      "); waited for by " + joined(who));
    causes.push_back(
        {{"actor", cause},
         {"node", later.node_of.count(cause) ? later.node_of.at(cause)
                                             : std::string("?")},
         {"state", state},
         {"detail", detail},
         {"waited_by", who}});
  }
  json loops = json::array();
  for (const auto& c : cycles) {
    r.lines.push_back("=> cycle: " + joined(c) + " wait for each other");
    loops.push_back(c);
  }
  if (g.empty())
    r.lines.push_back(fmt::format("nobody waits: no actor has been blocked "
                                  "on another for {:.1f} s",
                                  window));
  for (const auto& a : later.nodes)
    if (!later.answered(a.at.node) && !named.count(a.at.node)) {
      auto l = later.judge(a.at.node);
      if (l.state != "alive")
        r.lines.push_back("node " + a.at.node + " is " + l.state + ": " +
                          l.detail);
    }
  r.data = {{"waits", waits}, {"causes", causes}, {"cycles", loops}};
  return r;
}

} // namespace metronome::launcher::inspect
