#include "actors/core/control_service.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace metronome::actors {

using json = nlohmann::ordered_json;

namespace {

const std::vector<std::string> request_fields = {"v", "op"};
const std::vector<std::string> operations = {"status"};

std::string listed(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words)
    out += (out.empty() ? "" : ", ") + w;
  return out;
}

// Why `request` is not a request this node serves, or "".
std::string check_request(const json& request) {
  if (!request.is_object())
    return "a request is a JSON object, e.g. {\"v\": 1, \"op\": \"status\"}";
  for (const auto& [key, value] : request.items())
    if (std::find(request_fields.begin(), request_fields.end(), key) ==
        request_fields.end())
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
  if (std::find(operations.begin(), operations.end(), name) == operations.end())
    return "unknown operation '" + name + "' (known: " + listed(operations) +
           ")";
  return {};
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
                                 const messages::transport& t)
    : topo_(topo)
    , node_(std::move(node))
    , board_(board)
    , transport_(t) {}

std::string control_service::answer(const std::string& request) const {
  json parsed;
  try {
    parsed = json::parse(request);
  } catch (const json::parse_error& e) {
    json error = {
        {"v", control_protocol_version},
        {"ok", false},
        {"node", node_},
        {"error", std::string("the request is not JSON: ") + e.what()}};
    return error.dump();
  }
  auto why = check_request(parsed);
  if (!why.empty()) {
    json error = {{"v", control_protocol_version},
                  {"ok", false},
                  {"node", node_},
                  {"error", why}};
    return error.dump();
  }
  return status().dump(-1, ' ', false, json::error_handler_t::replace);
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
