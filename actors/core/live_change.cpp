#include "actors/core/live_change.hpp"

#include <algorithm>

namespace metronome::actors {

live_change::live_change(std::vector<std::string> servers,
                         std::vector<std::string> workers, send_fn send)
    : servers_(std::move(servers))
    , workers_(std::move(workers))
    , send_(std::move(send)) {}

void live_change::send_phase(int phase, const std::vector<std::string>& to) {
  phase_ = phase;
  current_.phase = phase;
  waiting_ = to;
  for (const auto& actor : to)
    send_(actor, current_);
}

void live_change::begin(knob_setting k) {
  current_ = std::move(k);
  from_clock_ = 0;
  clocks_.clear();
  send_phase(1, servers_);
  if (servers_.empty())
    send_phase(2, workers_);
}

std::optional<std::int64_t> live_change::answered(const std::string& who,
                                                  const knob_setting& k,
                                                  std::int64_t clock) {
  if (!busy() || k.id != current_.id || k.phase != phase_)
    return std::nullopt;
  auto at = std::find(waiting_.begin(), waiting_.end(), who);
  if (at == waiting_.end())
    return std::nullopt;
  waiting_.erase(at);
  if (phase_ == 2) {
    from_clock_ = std::max(from_clock_, clock);
    clocks_.emplace_back(who, clock);
  }
  if (!waiting_.empty())
    return std::nullopt;
  if (phase_ == 1) {
    send_phase(2, workers_);
    return std::nullopt;
  }
  send_phase(3, servers_);
  phase_ = 0;
  return from_clock_;
}

} // namespace metronome::actors

namespace metronome::actors {

using json = nlohmann::ordered_json;

const std::vector<live_knob>& live_knobs() {
  static const std::vector<live_knob> knobs = {
      {"staleness", "coordinator", "set staleness TABLE BOUND"},
      {"cutoff", "server", "set cutoff RULE [KEY=VALUE ...]"},
  };
  return knobs;
}

live_settings::live_settings(std::vector<table_layout> tables,
                             live_change change, record_fn record)
    : tables_(std::move(tables))
    , change_(std::move(change))
    , record_(std::move(record)) {}

std::string live_settings::refuse(const json& request, std::int64_t& bound,
                                  std::size_t& table) const {
  auto knob = request.value("knob", std::string());
  if (knob != "staleness")
    return "the coordinator changes the staleness bound, not '" + knob + "'";
  auto name = request.value("table", std::string());
  std::string names;
  table = tables_.size();
  for (std::size_t i = 0; i < tables_.size(); ++i) {
    names += (names.empty() ? "" : ", ") + tables_[i].name;
    if (tables_[i].name == name)
      table = i;
  }
  if (table == tables_.size())
    return "no table '" + name + "' in this job (tables: " + names + ")";
  auto value = request.find("value");
  if (value == request.end() || !value->is_number_integer() || *value < 1 ||
      *value > 1000000)
    return "a staleness bound is a whole number from 1 to 1000000";
  bound = value->get<std::int64_t>();
  const auto& t = tables_[table];
  if (bound == t.staleness)
    return "table " + t.name + " already has bound " + std::to_string(bound);
  // The policy the servers run says whether it can change its bound.
  auto why =
      make_policy(t.consistency, t.staleness)->set_staleness(bound, bound);
  if (!why.empty())
    return "table " + t.name + ": " + why;
  if (change_.busy())
    return "the change of the bound of table " + change_.current().table +
           " to " +
           std::to_string(static_cast<std::int64_t>(change_.current().value)) +
           " is still being applied";
  return {};
}

json live_settings::ask(const json& request, std::uint64_t iteration) {
  std::int64_t bound = 0;
  std::size_t table = 0;
  if (auto why = refuse(request, bound, table); !why.empty())
    return {{"error", why}};
  knob_setting k{next_id_++, "staleness", tables_[table].name,
                 static_cast<double>(bound), 0};
  json record = {{"event", "set"},   {"knob", "staleness"},
                 {"table", k.table}, {"from", tables_[table].staleness},
                 {"to", bound},      {"iteration", iteration},
                 {"state", "asked"}, {"by", "inspect"}};
  history_.push_back(record);
  record_(record);
  change_.begin(k);
  return record;
}

bool live_settings::answered(const std::string& who, const knob_setting& k,
                             std::int64_t clock) {
  auto from = change_.answered(who, k, clock);
  if (!from)
    return false;
  for (auto& t : tables_)
    if (t.name == k.table) {
      json record = {{"event", "set"},
                     {"knob", "staleness"},
                     {"table", t.name},
                     {"from", t.staleness},
                     {"to", static_cast<std::int64_t>(k.value)},
                     {"iteration", history_.back().value("iteration", 0)},
                     {"clock", *from},
                     {"clocks", json::object()},
                     {"state", "applied"},
                     {"by", "inspect"}};
      for (const auto& [worker, clock] : change_.clocks())
        record["clocks"][worker] = clock;
      t.staleness = static_cast<std::int64_t>(k.value);
      history_.back() = record;
      record_(record);
    }
  return true;
}

} // namespace metronome::actors
