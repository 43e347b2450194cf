#pragma once

#include "actors/core/table.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace metronome::actors {

/// A live change of a job setting (inspect's `set`) as it travels between
/// the coordinator and the actors that apply it (wire Knob).
struct knob_setting {
  std::uint64_t id = 0;
  std::string name; ///< "staleness"
  std::string table;
  double value = 0;
  int phase = 0;
};

/// The coordinator's side of a live change of a table's staleness bound,
/// which must never let a read see less than the bound in force allows.
///
///   idle --begin()--> servers --last server acked--> workers
///        --last worker acked--> idle (the change is in force)
///
/// Phase 1 tells the servers to answer reads under the smaller of the old
/// and new bounds and to accept updates within the larger; phase 2 tells
/// the workers to read under the new bound from their next read, and each
/// answers with that read's clock; phase 3 tells the servers to answer
/// under the new bound. Each worker's reads from its clock on are within
/// the new bound, its reads before within the old one; from the largest of
/// the clocks on, every read is within the new bound.
class live_change {
public:
  /// Sends `k` to actor `to`.
  using send_fn = std::function<void(const std::string& to, knob_setting k)>;

  live_change(std::vector<std::string> servers,
              std::vector<std::string> workers, send_fn send);

  /// Whether a change is being applied.
  bool busy() const { return phase_ != 0; }

  /// The change being applied (meaningful while busy()).
  const knob_setting& current() const { return current_; }

  /// Starts change `k` (not busy()): sends phase 1 to every server.
  void begin(knob_setting k);

  /// Takes the answer of actor `who` to phase `k.phase` of the current
  /// change, given at `clock`. Returns the clock from which the change is
  /// in force once the last worker has answered (phase 3 is then sent);
  /// nothing otherwise. Answers to other changes or phases, and repeated
  /// ones, are ignored.
  std::optional<std::int64_t>
  answered(const std::string& who, const knob_setting& k, std::int64_t clock);

  /// Worker `worker` is lost for good (under a cutoff the job goes on
  /// without it): no phase waits for it any more. Returns what answered()
  /// would when that completes the change.
  std::optional<std::int64_t> lost(const std::string& worker);

  /// Per worker, the clock of its first read under the last change that
  /// came into force.
  const std::vector<std::pair<std::string, std::int64_t>>& clocks() const {
    return clocks_;
  }

private:
  void send_phase(int phase, const std::vector<std::string>& to);
  std::optional<std::int64_t> complete_phase();

  std::vector<std::string> servers_;
  std::vector<std::string> workers_;
  send_fn send_;
  knob_setting current_;
  int phase_ = 0;
  std::vector<std::string> waiting_; // who has not answered this phase
  std::int64_t from_clock_ = 0;
  std::vector<std::pair<std::string, std::int64_t>> clocks_;
};

/// The settings inspect's `set` changes while a job runs, with the role
/// that takes each: staleness and learning_rate (the coordinator, which
/// leads the change), cutoff (the leading server, whose predictor uses the
/// rule).
struct live_knob {
  std::string name;
  std::string role; ///< the actor that takes the request
  std::string usage;
};

/// Every live knob, in the order help lists them.
const std::vector<live_knob>& live_knobs();

/// The coordinator's live settings: checks a `set` request against the
/// job, leads the change through a live_change and records it. A learning
/// rate change is taken by each worker at its next push (phase 2 only).
class live_settings {
public:
  /// Writes one record of the job's events.
  using record_fn = std::function<void(nlohmann::ordered_json)>;

  /// `learning_rate` is the job's, or nothing for a program that adds its
  /// updates.
  live_settings(std::vector<table_layout> tables,
                std::optional<float> learning_rate, live_change change,
                record_fn record);

  /// The answer to `request` ({"knob", "table", "value"}, as the control
  /// endpoint passed it on) asked at iteration `iteration`: the record of
  /// the change begun, or {"error": why it is refused}.
  nlohmann::ordered_json ask(const nlohmann::ordered_json& request,
                             std::uint64_t iteration);

  /// Takes a Knob answer of `who` at `clock`; true when it brought a
  /// change into force (then recorded with each worker's clock, and
  /// tables() shows it).
  bool answered(const std::string& who, const knob_setting& k,
                std::int64_t clock);

  /// Worker `worker` is lost for good; true when that brought a change
  /// into force.
  bool lost(const std::string& worker);

  /// The tables with the bounds in force.
  const std::vector<table_layout>& tables() const { return tables_; }

  /// Every change asked for, with its state, for `actor coordinator/0`.
  const nlohmann::ordered_json& history() const { return history_; }

private:
  std::string refuse_bound(const nlohmann::ordered_json& request,
                           knob_setting& k) const;
  std::string refuse_rate(const nlohmann::ordered_json& request,
                          knob_setting& k) const;
  nlohmann::ordered_json from_value(const knob_setting& k) const;
  nlohmann::ordered_json to_value(const knob_setting& k) const;
  bool applied(std::optional<std::int64_t> from);

  std::vector<table_layout> tables_;
  std::optional<float> learning_rate_;
  live_change change_;
  record_fn record_;
  nlohmann::ordered_json history_ = nlohmann::ordered_json::array();
  std::uint64_t next_id_ = 1;
};

} // namespace metronome::actors
