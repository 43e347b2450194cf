#include "actors/core/control_service.hpp"
#include "actors/core/live_change.hpp"

#include "messages/codec.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>

namespace metronome::actors {

using json = nlohmann::ordered_json;

namespace {

const std::vector<std::string> request_fields = {
    "v", "op", "actor", "table", "begin", "end", "id", "knob", "value"};
const std::vector<std::string> operations = {"status", "pause",  "resume",
                                             "table",  "answer", "set"};

bool has(const std::vector<std::string>& words, const std::string& w) {
  return std::find(words.begin(), words.end(), w) != words.end();
}

// The fields an operation takes besides "v" and "op": strings and whole
// numbers, every one required, then fields it may have of any type.
struct operation_fields {
  std::vector<std::string> strings;
  std::vector<std::string> numbers;
  std::vector<std::string> optional;
};

const operation_fields& fields_of(const std::string& op) {
  static const std::map<std::string, operation_fields> fields = {
      {"status", {{}, {}, {}}},
      {"pause", {{"actor"}, {}, {}}},
      {"resume", {{"actor"}, {}, {}}},
      {"table", {{"actor", "table"}, {"begin", "end"}, {}}},
      {"answer", {{"actor"}, {"id"}, {}}},
      {"set", {{"actor", "knob"}, {}, {"table", "value"}}},
  };
  return fields.at(op);
}

std::string listed(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words)
    out += (out.empty() ? "" : ", ") + w;
  return out;
}

// Why the fields of operation `op` in `request` are wrong, or "".
std::string check_fields(const std::string& op, const json& request) {
  const auto& f = fields_of(op);
  for (const auto& [key, value] : request.items())
    if (key != "v" && key != "op" && !has(f.strings, key) &&
        !has(f.numbers, key) && !has(f.optional, key))
      return op + " takes no \"" + key + "\"";
  for (const auto& key : f.strings)
    if (!request.contains(key) || !request.at(key).is_string())
      return op + " needs \"" + key + "\", a string (e.g. \"" +
             (key == "table"                    ? "all"
              : op == "pause" || op == "resume" ? "worker/1"
                                                : "server/0") +
             "\")";
  for (const auto& key : f.numbers)
    if (!request.contains(key) || !request.at(key).is_number_unsigned())
      return op + " needs \"" + key + "\", a whole number >= 0";
  return {};
}

// Why `request` is not a request this node serves, or "".
std::string check_request(const json& request) {
  if (!request.is_object())
    return "a request is a JSON object, e.g. {\"v\": 1, \"op\": \"status\"}";
  for (const auto& [key, value] : request.items())
    if (!has(request_fields, key))
      return "unknown field '" + key +
             "' in the request (known: " + listed(request_fields) + ")";
  auto v = request.find("v");
  if (v == request.end())
    return "the request has no protocol version \"v\" (this node speaks " +
           std::to_string(control_protocol_version) + ")";
  if (!v->is_number_integer() || *v != control_protocol_version)
    return "protocol version " + v->dump() + " is not served here (this " +
           "node speaks " + std::to_string(control_protocol_version) + ")";
  auto op = request.find("op");
  if (op == request.end() || !op->is_string())
    return "the request has no operation \"op\" (known: " + listed(operations) +
           ")";
  auto name = op->get<std::string>();
  if (!has(operations, name))
    return "unknown operation '" + name + "' (known: " + listed(operations) +
           ")";
  return check_fields(name, request);
}

json error_reply(const std::string& node, const std::string& error) {
  return {{"v", control_protocol_version},
          {"ok", false},
          {"node", node},
          {"error", error}};
}

json counters(const messages::transport_counters& c) {
  return {{"frames_in", c.frames_in.load()},
          {"frames_out", c.frames_out.load()},
          {"bytes_in", c.bytes_in.load()},
          {"bytes_out", c.bytes_out.load()},
          {"dropped", c.dropped()},
          {"send_errors", c.send_errors.load()},
          {"credit_stalls", c.credit_stalls.load()},
          {"connections",
           c.connections_accepted.load() - c.connections_closed.load()}};
}

} // namespace

control_service::control_service(const topology& topo, std::string node,
                                 const status_board& board,
                                 const messages::transport& t, steer_fn steer,
                                 read_fn read, set_fn set)
    : topo_(topo)
    , node_(std::move(node))
    , board_(board)
    , transport_(t)
    , steer_(std::move(steer))
    , read_(std::move(read))
    , set_(std::move(set)) {}

std::string control_service::answer(const std::string& request) {
  json parsed;
  try {
    parsed = json::parse(request);
  } catch (const json::parse_error& e) {
    return error_reply(node_,
                       std::string("the request is not JSON: ") + e.what())
        .dump();
  }
  auto why = check_request(parsed);
  if (!why.empty())
    return error_reply(node_, why)
        .dump(-1, ' ', false, json::error_handler_t::replace);
  auto op = parsed["op"].get<std::string>();
  json reply;
  if (op == "status")
    reply = status();
  else if (op == "table")
    reply = read_table(parsed);
  else if (op == "answer")
    reply = take(parsed);
  else if (op == "set")
    reply = set(parsed);
  else
    reply = steer(parsed);
  return reply.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Why the tables of `name` cannot be read through this endpoint, or "".
std::string control_service::refuse_reading(const std::string& name) const {
  if (topo_.node_of(name) == nullptr)
    return "no actor '" + name + "' in this job";
  std::string role;
  int index = 0;
  if (!messages::parse_actor_name(name, role, index) || role != "server")
    return "tables are read from their servers; " + name + " is a " + role;
  return refuse_asking(name);
}

json control_service::read_table(const json& request) {
  table_read read{0, request.at("actor").get<std::string>(),
                  request.at("table").get<std::string>(),
                  request.at("begin").get<std::uint64_t>(),
                  request.at("end").get<std::uint64_t>()};
  if (auto why = refuse_reading(read.server); !why.empty())
    return error_reply(node_, why);
  if (read.begin >= read.end)
    return error_reply(node_,
                       "an empty slice: begin " + std::to_string(read.begin) +
                           " is not below end " + std::to_string(read.end));
  if (read.end - read.begin > max_slice_values)
    return error_reply(
        node_, "a slice of " + std::to_string(read.end - read.begin) +
                   " values; at most " + std::to_string(max_slice_values) +
                   " are read at once");
  read.id = ++asked_;
  if (!read_ || !read_(read))
    return error_reply(node_,
                       read.server + " does not run on this node (any more)");
  return {{"v", control_protocol_version},
          {"ok", true},
          {"node", node_},
          {"op", "table"},
          {"actor", read.server},
          {"id", read.id},
          {"state", "pending"}};
}

// Why actor `name` cannot be asked through this endpoint, or "".
std::string control_service::refuse_asking(const std::string& name) const {
  const auto* host = topo_.node_of(name);
  if (host == nullptr)
    return "no actor '" + name + "' in this job";
  if (host->name != node_)
    return name + " is on node " + host->name + ", not on " + node_ +
           " (ask the endpoint of " + host->name + ", port " +
           std::to_string(host->control_port) + ")";
  return {};
}

json control_service::take(const json& request) const {
  auto name = request.at("actor").get<std::string>();
  auto id = request.at("id").get<std::uint64_t>();
  if (auto why = refuse_asking(name); !why.empty())
    return error_reply(node_, why);
  auto status = board_.find(name);
  if (!status)
    return error_reply(node_, name + " does not run on this node (any more)");
  auto got = status->take_answer(id);
  json out = {{"v", control_protocol_version},
              {"ok", true},
              {"node", node_},
              {"op", "answer"},
              {"actor", name},
              {"id", id},
              {"state", got.is_null() ? "pending" : "answered"}};
  if (got.is_object() && got.contains("error"))
    return error_reply(node_, got["error"].get<std::string>());
  if (got.is_object())
    out.update(got);
  return out;
}

// Why `request` (a set) cannot be passed on to its actor, or "".
std::string control_service::refuse_setting(const json& request) const {
  auto name = request.at("actor").get<std::string>();
  auto knob = request.at("knob").get<std::string>();
  if (topo_.options.inspect != "write")
    return "this job's control endpoints are read-only (options.inspect: " +
           topo_.options.inspect + "); set needs options.inspect: write in " +
           "the topology";
  const auto& knobs = live_knobs();
  auto k = std::find_if(knobs.begin(), knobs.end(),
                        [&](const live_knob& l) { return l.name == knob; });
  if (k == knobs.end()) {
    std::vector<std::string> names;
    for (const auto& l : knobs)
      names.push_back(l.name);
    return "no live knob '" + knob + "' (knobs: " + listed(names) + ")";
  }
  if (scheduled_job(topo_.job))
    return "a scheduled program's rounds have no " + knob + " to change";
  bool cutoff = topo_.job.consistency == "cutoff";
  if (k->name == "cutoff" && !cutoff)
    return "this job runs under " + topo_.job.consistency +
           "; a cutoff rule applies only to consistency cutoff";
  if (k->name == "staleness" && cutoff)
    return "under consistency cutoff there is no staleness bound; its rule "
           "sets the pace (set cutoff RULE)";
  std::string expected = k->role == "server" ? "server/0" : "coordinator/0";
  if (name != expected)
    return knob + " is changed through " + expected + ", not " + name;
  return refuse_asking(name);
}

json control_service::set(const json& request) {
  if (auto why = refuse_setting(request); !why.empty())
    return error_reply(node_, why);
  auto name = request.at("actor").get<std::string>();
  json passed = {{"knob", request.at("knob")}};
  for (const char* key : {"table", "value"})
    if (request.contains(key))
      passed[key] = request.at(key);
  auto id = ++asked_;
  if (!set_ || !set_(name, id, passed.dump()))
    return error_reply(node_, name + " does not run on this node (any more)");
  return {{"v", control_protocol_version},
          {"ok", true},
          {"node", node_},
          {"op", "set"},
          {"actor", name},
          {"id", id},
          {"state", "pending"}};
}

// Why `op` (pause or resume) of actor `name` cannot be served here, or "".
std::string control_service::refuse_steering(const std::string& op,
                                             const std::string& name) const {
  if (topo_.options.inspect != "write")
    return "this job's control endpoints are read-only (options.inspect: " +
           topo_.options.inspect + "); pause and resume need " +
           "options.inspect: write in the topology";
  if (topo_.node_of(name) == nullptr)
    return "no actor '" + name + "' in this job";
  std::string role;
  int index = 0;
  if (!messages::parse_actor_name(name, role, index) || role != "worker")
    return "only workers can be paused; " + name + " is a " + role;
  if (scheduled_job(topo_.job))
    return "the workers of a scheduled program follow the scheduler's " +
           std::string("rounds and cannot be paused");
  if (auto why = refuse_asking(name); !why.empty())
    return why;
  if (op == "resume" && paused_.count(name) == 0)
    return name + " is not paused";
  return {};
}

json control_service::steer(const json& request) {
  auto op = request.at("op").get<std::string>();
  auto name = request.at("actor").get<std::string>();
  if (auto why = refuse_steering(op, name); !why.empty())
    return error_reply(node_, why);
  bool pause = op == "pause";
  std::string state = pause ? "pausing" : "resumed";
  if (pause && paused_.count(name) > 0)
    state = "paused";
  else if (!steer_ || !steer_(name, pause))
    return error_reply(node_, name + " does not run on this node (any more)");
  if (pause)
    paused_.insert(name);
  else
    paused_.erase(name);
  return {{"v", control_protocol_version},
          {"ok", true},
          {"node", node_},
          {"op", op},
          {"actor", name},
          {"state", state}};
}

json control_service::status() const {
  auto unix_now = std::chrono::duration<double>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  auto actors = board_.snapshot();
  for (auto& a : actors)
    a["node"] = node_;
  return {{"v", control_protocol_version},
          {"ok", true},
          {"node", node_},
          {"pid", static_cast<long>(::getpid())},
          {"unix_s", unix_now},
          {"inspect", topo_.options.inspect},
          {"consistency", topo_.job.consistency},
          {"actors", std::move(actors)},
          {"transport", counters(transport_.counters())},
          {"peers", peers()}};
}

json control_service::peers() const {
  json out = json::array();
  for (const auto& p : transport_.peer_reports()) {
    json entry = {{"name", p.name},
                  {"state", messages::to_string(p.state)},
                  {"queued", p.queued},
                  {"in_flight", p.in_flight},
                  {"in_flight_bytes", p.in_flight_bytes},
                  {"stalled", p.stalled},
                  {"silent_s", p.silent_seconds}};
    if (const auto* spec = topo_.find_node(p.name)) {
      entry["host"] = spec->host;
      entry["control_port"] = spec->control_port;
      entry["actors"] = spec->actors;
    }
    if (p.name == node_)
      entry["self"] = true;
    out.push_back(std::move(entry));
  }
  return out;
}

} // namespace metronome::actors
