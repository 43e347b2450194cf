#include "launcher/inspect/session.hpp"

#include "actors/core/control_service.hpp"
#include "actors/core/live_change.hpp"
#include "launcher/config.hpp"
#include "launcher/inspect/settings.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

namespace metronome::launcher::inspect {

namespace {

// Between the two looks of `why`: long enough for a working actor to move
// its clock or phase, short enough to stay interactive.
constexpr auto confirm_window = std::chrono::milliseconds(400);

const json status_request = {{"v", 1}, {"op", "status"}};

// The tables of the servers that answered, by name.
std::vector<std::string> table_names(const job_view& v);

// Between two asks whether an actor has answered (read a slice, taken a
// setting).
constexpr auto answer_poll = std::chrono::milliseconds(5);

result failure(std::string error) {
  result r;
  r.ok = false;
  r.error = std::move(error);
  return r;
}

// "no node answers at A, B" when nobody answered, else "".
std::string nobody_answers(const job_view& v) {
  std::vector<std::string> where;
  for (const auto& a : v.nodes) {
    if (a.answered && a.error.empty())
      return {};
    where.push_back(a.at.text());
  }
  return "no node answers at " + joined(where);
}

std::string field(const json& j, const char* key) {
  auto i = j.find(key);
  if (i == j.end())
    return "-";
  return i->is_string() ? i->get<std::string>() : i->dump();
}

std::string table_line(const json& t) {
  auto line =
      fmt::format("table {} ({}", field(t, "name"), field(t, "consistency"));
  if (t.contains("staleness"))
    line += " s=" + field(t, "staleness");
  line += "): committed " + field(t, "committed");
  if (t.contains("slowest"))
    line += ", slowest " + field(t, "slowest") + " at " + field(t, "min_clock");
  return line;
}

} // namespace

session::session(double timeout_seconds, bool json_output)
    : client_(timeout_seconds)
    , json_(json_output) {}

int session::attach(const std::string& target) {
  std::error_code ec;
  if (std::filesystem::exists(target, ec)) {
    actors::topology topo;
    try {
      topo = load_topology(target);
    } catch (const config_error& e) {
      for (const auto& p : e.problems())
        std::fprintf(stderr, "%s\n", p.c_str());
      return inspect_usage;
    }
    if (topo.options.inspect == "off") {
      std::fprintf(stderr,
                   "%s: options.inspect is off: the nodes have no control "
                   "endpoint\n",
                   target.c_str());
      return inspect_usage;
    }
    for (const auto& n : topo.nodes) {
      auto host = is_local_host(n.host) ? "127.0.0.1" : n.host;
      endpoints_.push_back({n.name, host, n.control_port});
      hosted_[n.name] = n.actors;
    }
    return inspect_ok;
  }
  auto at = parse_endpoint(target);
  if (!at) {
    std::fprintf(stderr,
                 "'%s' is neither a topology file nor HOST:PORT of a control "
                 "endpoint\n",
                 target.c_str());
    return inspect_usage;
  }
  auto first = client_.ask({*at}, status_request).front();
  if (!first.answered || !first.error.empty()) {
    std::fprintf(stderr, "%s\n", first.error.c_str());
    return inspect_failed;
  }
  endpoints_.push_back(first.at);
  for (const auto& p : first.reply.value("peers", json::array())) {
    auto name = p.value("name", std::string());
    hosted_[name] = p.value("actors", std::vector<std::string>());
    if (p.value("self", false) || !p.contains("control_port"))
      continue;
    auto host = p.value("host", std::string());
    endpoint e{name, is_local_host(host) ? "127.0.0.1" : host,
               p.value("control_port", std::uint16_t{0})};
    if (e.port != 0)
      endpoints_.push_back(e);
  }
  return inspect_ok;
}

job_view session::look() {
  return make_view(client_.ask(endpoints_, status_request), hosted_);
}

std::vector<std::string> session::words() {
  std::vector<std::string> out;
  for (const auto& [usage, text] : command_help())
    out.push_back(usage.substr(0, usage.find(' ')));
  for (const auto& k : actors::live_knobs())
    out.push_back(k.name);
  if (tables_.empty())
    tables_ = table_names(look());
  out.insert(out.end(), tables_.begin(), tables_.end());
  for (const auto& [node, actors] : hosted_) {
    out.push_back(node);
    out.insert(out.end(), actors.begin(), actors.end());
  }
  return out;
}

int session::run(const std::vector<std::string>& words) {
  auto r = dispatch(words);
  if (words[0] != "watch")
    print(words[0], r);
  return r.ok ? inspect_ok : inspect_failed;
}

void session::print(const std::string& command, const result& r) const {
  if (json_) {
    json out = {{"command", command}, {"ok", r.ok}};
    if (!r.ok)
      out["error"] = r.error;
    out.update(r.data);
    std::printf(
        "%s\n",
        out.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
  } else if (!r.ok) {
    std::fprintf(stderr, "%s: %s\n", command.c_str(), r.error.c_str());
  } else {
    for (const auto& line : r.lines)
      std::printf("%s\n",
                  line.substr(0, line.find_last_not_of(' ') + 1).c_str());
  }
  std::fflush(stdout);
}

result session::dispatch(const std::vector<std::string>& words) {
  const auto& c = words[0];
  if (c == "help") {
    result r;
    for (const auto& [usage, text] : command_help()) {
      r.lines.push_back(fmt::format("{:<40} {}", usage, text));
      r.data["commands"][usage] = text;
    }
    return r;
  }
  if (c == "nodes")
    return nodes();
  if (c == "actors")
    return actors(words.size() > 1 ? words[1] : "");
  if (c == "actor")
    return actor(words[1]);
  if (c == "clocks")
    return clocks();
  if (c == "queues")
    return queues();
  if (c == "staleness")
    return staleness();
  if (c == "pause" || c == "resume")
    return steer(c, words[1]);
  if (c == "table")
    return table(words[1], words[2]);
  if (c == "why")
    return why();
  if (c == "set")
    return set(words);
  if (c == "cutoff")
    return cutoff();
  return watch(words);
}

result session::nodes() {
  auto v = look();
  if (auto none = nobody_answers(v); !none.empty())
    return failure(none);
  result r;
  json list = json::array();
  r.lines.push_back(fmt::format("{:<12} {:<12} {:<22} {:<8} {}", "NODE",
                                "STATE", "CONTROL", "PID", "ACTORS"));
  for (const auto& a : v.nodes) {
    auto l = v.judge(a.at.node);
    auto actors = hosted_[a.at.node];
    auto pid = a.answered ? field(a.reply, "pid") : "-";
    r.lines.push_back(fmt::format("{:<12} {:<12} {:<22} {:<8} {}", a.at.node,
                                  l.state, a.at.text(), pid, joined(actors)));
    if (l.state != "alive")
      r.lines.push_back("  " + l.detail);
    list.push_back({{"node", a.at.node},
                    {"state", l.state},
                    {"detail", l.detail},
                    {"control", a.at.text()},
                    {"actors", actors}});
  }
  r.data["nodes"] = list;
  return r;
}

result session::actors(const std::string& filter) {
  auto v = look();
  if (auto none = nobody_answers(v); !none.empty())
    return failure(none);
  result r;
  json list = json::array();
  for (const auto& [name, node] : v.node_of) {
    if (!filter.empty() && name.find(filter) == std::string::npos &&
        node.find(filter) == std::string::npos)
      continue;
    auto it = v.actors.find(name);
    if (it == v.actors.end()) {
      auto l = v.judge(node);
      r.lines.push_back(
          fmt::format("{:<15} {:<8} node {}", name, node, l.state));
      list.push_back({{"name", name}, {"node", node}, {"state", l.state}});
      continue;
    }
    const auto& a = it->second;
    auto wait = describe_wait(a);
    r.lines.push_back(fmt::format("{:<15} {:<8} {:<20} clock {:<8} {}", name,
                                  node, field(a, "phase"), field(a, "clock"),
                                  wait));
    list.push_back(a);
  }
  if (list.empty())
    return failure("no actor matches '" + filter +
                   "' (actors: " + joined(v.actor_names()) + ")");
  r.data["actors"] = list;
  return r;
}

result session::actor(const std::string& name) {
  auto v = look();
  if (auto none = nobody_answers(v); !none.empty())
    return failure(none);
  auto node = v.node_of.find(name);
  if (node == v.node_of.end())
    return failure("no actor '" + name +
                   "' in this job (actors: " + joined(v.actor_names()) + ")");
  auto it = v.actors.find(name);
  if (it == v.actors.end()) {
    auto l = v.judge(node->second);
    return failure(name + " is on node " + node->second + ", which is " +
                   l.state + ": " + l.detail);
  }
  result r;
  r.data["actor"] = it->second;
  for (const auto& [key, value] : it->second.items())
    r.lines.push_back(fmt::format("{:<10} {}", key,
                                  value.is_string() ? value.get<std::string>()
                                                    : value.dump()));
  if (auto wait = describe_wait(it->second); !wait.empty())
    r.lines.push_back("=> " + name + " " + wait);
  return r;
}

result session::clocks() {
  auto v = look();
  if (auto none = nobody_answers(v); !none.empty())
    return failure(none);
  result r;
  json workers = json::object();
  json tables = json::array();
  std::int64_t low = -1, high = -1;
  for (const auto& [name, node] : v.node_of) {
    auto it = v.actors.find(name);
    bool worker = name.rfind("worker/", 0) == 0;
    if (it == v.actors.end()) {
      if (worker)
        r.lines.push_back(fmt::format("{:<15} ? (node {} is {})", name, node,
                                      v.judge(node).state));
      continue;
    }
    const auto& a = it->second;
    if (worker) {
      auto clock = a.value("clock", std::int64_t{-1});
      low = low < 0 ? clock : std::min(low, clock);
      high = std::max(high, clock);
      workers[name] = clock;
      r.lines.push_back(
          fmt::format("{:<15} clock {:<8} {}", name, clock, field(a, "phase")));
    }
    for (const auto& t : a.value("tables", json::array())) {
      r.lines.push_back(fmt::format("{:<15} {}", name, table_line(t)));
      json entry = t;
      entry["server"] = name;
      tables.push_back(entry);
    }
  }
  if (high >= 0)
    r.lines.push_back(fmt::format("workers at clocks {}..{} (spread {})", low,
                                  high, high - low));
  r.data["workers"] = workers;
  r.data["tables"] = tables;
  return r;
}

result session::queues() {
  auto v = look();
  if (auto none = nobody_answers(v); !none.empty())
    return failure(none);
  result r;
  json list = json::array();
  for (const auto& a : v.nodes) {
    if (!v.answered(a.at.node))
      continue;
    for (const auto& p : a.reply.value("peers", json::array())) {
      if (p.value("self", false))
        continue;
      r.lines.push_back(fmt::format(
          "{} -> {:<10} {:<8} queued {:<6} in flight {} ({} bytes){}",
          a.at.node, field(p, "name"), field(p, "state"), field(p, "queued"),
          field(p, "in_flight"), field(p, "in_flight_bytes"),
          p.value("stalled", false) ? ", out of credit" : ""));
      json entry = p;
      entry["from"] = a.at.node;
      list.push_back(entry);
    }
  }
  json mailboxes = json::object();
  for (const auto& [name, a] : v.actors) {
    auto m = a.value("messages", json::object());
    r.lines.push_back(fmt::format("{:<15} mailbox {} (delivered {}, handled "
                                  "{}, sent {})",
                                  name, field(m, "queued"),
                                  field(m, "delivered"), field(m, "handled"),
                                  field(m, "sent")));
    mailboxes[name] = m;
  }
  r.data["peers"] = list;
  r.data["mailboxes"] = mailboxes;
  return r;
}

namespace {

// The node that hosts `actor`, or "".
std::string
hosted_node(const std::map<std::string, std::vector<std::string>>& hosted,
            const std::string& actor) {
  for (const auto& [node, actors] : hosted)
    if (std::find(actors.begin(), actors.end(), actor) != actors.end())
      return node;
  return {};
}

// The keys of a table one server holds.
struct shard_keys {
  std::string server;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

// The servers of table `name` that answered, in key order.
std::vector<shard_keys> table_shards(const job_view& v,
                                     const std::string& name) {
  std::vector<shard_keys> out;
  for (const auto& [actor, a] : v.actors)
    for (const auto& t : a.value("tables", json::array())) {
      auto keys = t.value("keys", json::array());
      if (t.value("name", "") == name && keys.size() == 2 &&
          keys[0].is_number_unsigned() && keys[1].is_number_unsigned())
        out.push_back({actor, keys[0].get<std::uint64_t>(),
                       keys[1].get<std::uint64_t>()});
    }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.begin < b.begin; });
  return out;
}

std::vector<std::string> table_names(const job_view& v) {
  std::set<std::string> names;
  for (const auto& [actor, a] : v.actors)
    for (const auto& t : a.value("tables", json::array()))
      names.insert(t.value("name", std::string("?")));
  return {names.begin(), names.end()};
}

// `values` (keys begin.. of table `name`, read at `clocks`) as a result:
// four values a line (exact as float32), each after its first key.
result slice_result(const std::string& name, std::uint64_t begin,
                    const json& values, const json& clocks) {
  result r;
  std::vector<std::string> at;
  for (const auto& [server, clock] : clocks.items())
    at.push_back(server + " at clock " + clock.dump());
  r.lines.push_back(fmt::format("table {} {}:{} ({})", name, begin,
                                begin + values.size(), joined(at)));
  for (std::size_t i = 0; i < values.size(); i += 4) {
    std::string line = fmt::format("{:>8}", begin + i);
    for (std::size_t k = i; k < std::min(values.size(), i + 4); ++k)
      line += values[k].is_number()
                  ? fmt::format(" {:>14.9g}", values[k].get<double>())
                  : fmt::format(" {:>14}", "nan");
    r.lines.push_back(line);
  }
  r.data = {{"table", name},
            {"begin", begin},
            {"end", begin + values.size()},
            {"values", values},
            {"clocks", clocks}};
  return r;
}

// "table all (ssp, s=3)" for each table of `bounds` (the coordinator's
// list), and the tightest staleness bound, -1 when none is bounded.
std::pair<std::string, std::int64_t> bound_text(const json& bounds) {
  std::vector<std::string> parts;
  std::int64_t bound = -1;
  for (const auto& t : bounds) {
    auto consistency = t.value("consistency", std::string("?"));
    auto s = t.value("staleness", std::int64_t{0});
    std::string part =
        "table " + t.value("name", std::string("?")) + " (" + consistency;
    if (consistency == "ssp" || consistency == "essp") {
      part += ", s=" + std::to_string(s);
      bound = bound < 0 ? s : std::min(bound, s);
    } else if (consistency == "bsp") {
      bound = 0;
    }
    parts.push_back(part + ")");
  }
  return {joined(parts), bound};
}

} // namespace

result session::staleness() {
  auto v = look();
  if (auto none = nobody_answers(v); !none.empty())
    return failure(none);
  const std::string keeper = "coordinator/0";
  auto it = v.actors.find(keeper);
  if (it == v.actors.end()) {
    if (!v.node_of.count(keeper))
      return failure("this job has no " + keeper + ", which keeps staleness");
    auto node = v.node_of.at(keeper);
    return failure(keeper + " keeps the staleness figures; its node " + node +
                   " is " + v.judge(node).state);
  }
  auto found = it->second.find("staleness");
  auto stats = found != it->second.end() ? *found : json();
  if (!stats.is_object())
    return failure(keeper + " publishes no staleness: the workers of a "
                            "scheduled program read no tables");
  auto [bounds, bound] = bound_text(it->second.value("bounds", json::array()));
  // A bound changed live: the maxima cover reads under every bound so far.
  auto allowed = bound;
  std::vector<std::string> changes;
  for (const auto& c : it->second.value("settings", json::array()))
    if (c.value("knob", "") == "staleness" &&
        c.value("state", "") == "applied") {
      allowed = std::max({allowed, c.value("from", std::int64_t{0}),
                          c.value("to", std::int64_t{0})});
      changes.push_back(fmt::format("{} -> {} from clock {}", c["from"].dump(),
                                    c["to"].dump(), c.value("clock", 0)));
    }
  result r;
  r.lines.push_back(fmt::format("{:<15} {:>8} {:>8} {:>5} {:>10}  {}", "WORKER",
                                "READS", "MEAN", "MAX", "BLOCKED_S",
                                "BY CAUSE (s)"));
  json workers = json::object();
  for (const auto& [name, w] : stats.items()) {
    auto max = w.value("max", std::int64_t{0});
    bool over = bound >= 0 && max > allowed;
    auto worker = v.actors.find(name);
    auto causes = worker == v.actors.end()
                      ? json::object()
                      : worker->second.value("blocked_s", json::object());
    std::string by;
    for (const auto& [cause, seconds] : causes.items())
      if (seconds.is_number() && seconds.get<double>() > 0)
        by += fmt::format("{}{} {:.3f}", by.empty() ? "" : ", ", cause,
                          seconds.get<double>());
    r.lines.push_back(
        fmt::format("{:<15} {:>8} {:>8.3f} {:>5} {:>10.3f}  {}{}", name,
                    w.value("reads", std::uint64_t{0}), w.value("mean", 0.0),
                    max, w.value("blocked_s", 0.0), by.empty() ? "-" : by,
                    over ? "  over the bound" : ""));
    workers[name] = w;
    workers[name]["within_bound"] = !over;
    workers[name]["blocked_by"] = causes;
  }
  r.lines.push_back("bound: " + bounds +
                    (bound < 0 ? ", no staleness bound"
                               : ", reads at most " + std::to_string(bound) +
                                     (bound == 1 ? " clock" : " clocks") +
                                     " behind"));
  if (!changes.empty())
    r.lines.push_back("changed live: " + joined(changes) +
                      "; MEAN and MAX cover the reads under every bound "
                      "so far, and over the bound means above the largest");
  r.data["workers"] = workers;
  r.data["tables"] = it->second.value("bounds", json::array());
  if (bound >= 0)
    r.data["bound"] = bound;
  return r;
}

result session::steer(const std::string& op, const std::string& name) {
  std::string node;
  std::vector<std::string> all;
  for (const auto& [n, actors] : hosted_) {
    all.insert(all.end(), actors.begin(), actors.end());
    if (std::find(actors.begin(), actors.end(), name) != actors.end())
      node = n;
  }
  if (node.empty()) {
    std::sort(all.begin(), all.end());
    return failure("no actor '" + name +
                   "' in this job (actors: " + joined(all) + ")");
  }
  auto a = ask_node(node, {{"v", 1}, {"op", op}, {"actor", name}});
  if (!a.ok)
    return a;
  auto state = a.data.value("state", std::string("?"));
  result r;
  r.lines.push_back(name + " " + state + " (node " + node + ")");
  r.data = {{"actor", name}, {"node", node}, {"state", state}};
  return r;
}

result session::ask_node(const std::string& node, const json& request) {
  auto at = std::find_if(endpoints_.begin(), endpoints_.end(),
                         [&](const endpoint& e) { return e.node == node; });
  if (at == endpoints_.end())
    return failure("the control endpoint of node " + node + " is not known");
  auto a = client_.ask({*at}, request).front();
  if (a.answered && a.reply.is_object() && a.reply.value("ok", true) == false)
    return failure(a.reply.value("error", std::string("refused")));
  if (!a.answered || !a.error.empty())
    return failure(a.error);
  result r;
  r.data = a.reply;
  return r;
}

// Asks the endpoint of `node` for the answer `actor` keeps for request
// `id` until it has one or the timeout passes (then the error says the
// actor `late`).
result session::await_answer(const std::string& node, const std::string& actor,
                             std::uint64_t id, const std::string& late) {
  json request = {{"v", 1}, {"op", "answer"}, {"actor", actor}, {"id", id}};
  auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::milliseconds(static_cast<long>(client_.timeout() * 1000));
  for (;;) {
    auto got = ask_node(node, request);
    if (!got.ok || got.data.value("state", "") == "answered")
      return got;
    if (std::chrono::steady_clock::now() > deadline)
      return failure(fmt::format("{} {} in {} s (`actor {}` shows what it "
                                 "does)",
                                 actor, late, client_.timeout(), actor));
    std::this_thread::sleep_for(answer_poll);
  }
}

std::string session::node_of(const std::string& actor) const {
  return hosted_node(hosted_, actor);
}

// Asks `server` to read keys [begin, end) of `table` on its own thread,
// then waits for its answer.
result session::read_part(const std::string& server, const std::string& table,
                          std::uint64_t begin, std::uint64_t end) {
  auto node = hosted_node(hosted_, server);
  auto asked = ask_node(node, {{"v", 1},
                               {"op", "table"},
                               {"actor", server},
                               {"table", table},
                               {"begin", begin},
                               {"end", end}});
  if (!asked.ok)
    return asked;
  return await_answer(node, server, asked.data.value("id", std::uint64_t{0}),
                      "has not read the slice");
}

result session::table(const std::string& name, const std::string& range) {
  std::uint64_t begin = 0, end = 0;
  parse_slice(range, begin, end);
  auto v = look();
  if (auto none = nobody_answers(v); !none.empty())
    return failure(none);
  auto shards = table_shards(v, name);
  if (shards.empty())
    return failure("no table '" + name +
                   "' in this job (tables: " + joined(table_names(v)) + ")");
  std::uint64_t keys = 0;
  for (const auto& s : shards)
    keys = std::max(keys, s.end);
  if (end > keys)
    return failure(fmt::format("slice {} is outside table {}, whose servers "
                               "hold keys 0:{}",
                               range, name, keys));
  json values = json::array();
  json clocks = json::object();
  std::uint64_t next = begin;
  for (const auto& s : shards) {
    auto lo = std::max(next, s.begin);
    auto hi = std::min(end, s.end);
    if (lo >= hi)
      continue;
    if (lo != next)
      break;
    auto part = read_part(s.server, name, lo, hi);
    if (!part.ok)
      return part;
    for (const auto& x : part.data.value("values", json::array()))
      values.push_back(x);
    clocks[s.server] = part.data.value("committed", std::int64_t{-1});
    next = hi;
  }
  if (next != end)
    return failure(fmt::format("keys {}:{} of table {} are on a server whose "
                               "node does not answer",
                               next, end, name));
  return slice_result(name, begin, values, clocks);
}

result session::why() {
  auto earlier = look();
  if (auto none = nobody_answers(earlier); !none.empty())
    return failure(none);
  std::this_thread::sleep_for(confirm_window);
  auto later = look();
  if (auto none = nobody_answers(later); !none.empty())
    return failure(none);
  return explain(earlier, later);
}

result session::watch(const std::vector<std::string>& words) {
  double interval = 1;
  double count = 0;
  std::vector<std::string> inner;
  for (std::size_t i = 1; i < words.size(); ++i) {
    if (words[i] == "--interval" || words[i] == "--count") {
      positive_seconds(words[i + 1], words[i] == "--count" ? count : interval);
      ++i;
      continue;
    }
    inner.push_back(words[i]);
  }
  bool ok = true;
  for (long n = 0; count <= 0 || n < static_cast<long>(count); ++n) {
    if (n > 0)
      std::this_thread::sleep_for(
          std::chrono::milliseconds(static_cast<long>(interval * 1000)));
    auto r = dispatch(inner);
    print(inner[0], r);
    ok = ok && r.ok;
  }
  result r;
  r.ok = ok;
  if (!ok)
    r.error = "a watched command failed";
  return r;
}

} // namespace metronome::launcher::inspect
