#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace metronome::actors {

/// One thing an actor waits for: a clock of a table, from whom when known
/// ("waits for clock >= 10 of table hidden on server/0"; a server waits for
/// the updates of the workers still below it).
struct wait_item {
  std::string table;           ///< empty when it is not about a table
  std::int64_t clock = -1;     ///< the clock needed, -1 when none
  std::vector<std::string> on; ///< the actors it waits on
};

/// What one table looks like from one server shard.
struct table_status {
  std::string name;
  std::string consistency;
  std::int64_t staleness = 0;
  std::int64_t committed = 0; ///< every update below it is applied
  std::int64_t min_clock = 0; ///< clocks the slowest writer finished
  std::string slowest;        ///< that writer ("worker/7"), empty if none
  std::uint64_t begin = 0;    ///< the keys of the table this shard holds
  std::uint64_t end = 0;
};

/// The state one actor publishes at its clock and phase changes, read by
/// the transport thread when an inspector asks.
///
/// Writers are the actor itself (phase, waits, tables, handled and sent
/// counts) and the transport thread (delivered count); every method is
/// thread-safe. Publishing takes one uncontended lock; the message counters
/// are relaxed atomics on cache lines of their own.
class actor_status {
public:
  actor_status() = default;
  actor_status(std::string name, std::string role);

  /// Sets the phase (a static string: "reading", "computing", ...) and
  /// the clock; a new phase or clock restarts "since".
  void publish(const char* phase, std::int64_t clock);

  /// Sets what the actor waits for (empty: nothing); "waiting since" is
  /// kept while the items stay the same.
  void wait(const char* what, std::vector<wait_item> items);

  /// Replaces the table view of a server.
  void tables(std::vector<table_status> t);

  /// Sets a free-form field shown by `actor NAME` (counts, settings).
  void note(const std::string& key, nlohmann::ordered_json value);

  /// Sets entry `entry` of the object note `key` (one worker's figures of
  /// many), leaving its other entries.
  void note(const std::string& key, const std::string& entry,
            nlohmann::ordered_json value);

  /// Keeps `reply` as the answer to control request `id` (a table slice
  /// the actor read on its own thread), until the transport hands it out;
  /// the newest 16 answers are kept.
  void keep_answer(std::uint64_t id, nlohmann::ordered_json reply);

  /// The answer to control request `id` (and forgets it), or null while
  /// there is none.
  nlohmann::ordered_json take_answer(std::uint64_t id);

  void delivered() { in_.fetch_add(1, std::memory_order_relaxed); }
  void handled() { handled_.fetch_add(1, std::memory_order_relaxed); }
  void sent() { out_.fetch_add(1, std::memory_order_relaxed); }

  const std::string& name() const { return name_; }

  /// Everything published, as one JSON object (see docs/inspect.md).
  nlohmann::ordered_json snapshot() const;

private:
  using clock_type = std::chrono::steady_clock;

  std::string name_;
  std::string role_;
  mutable std::mutex mtx_;
  const char* phase_ = "started";
  std::int64_t clock_ = -1;
  clock_type::time_point phase_since_ = clock_type::now();
  clock_type::time_point clock_since_ = clock_type::now();
  const char* waiting_ = "";
  std::vector<wait_item> waits_;
  clock_type::time_point wait_since_;
  std::vector<table_status> tables_;
  std::map<std::string, nlohmann::ordered_json> notes_;
  std::map<std::uint64_t, nlohmann::ordered_json> answers_;
  alignas(64) std::atomic<std::uint64_t> in_{0};
  alignas(64) std::atomic<std::uint64_t> handled_{0};
  alignas(64) std::atomic<std::uint64_t> out_{0};
};

/// The published state of every actor of one node.
class status_board {
public:
  /// A status for actor `name` with role `role`, listed from now on.
  std::shared_ptr<actor_status> enter(const std::string& name,
                                      const std::string& role);

  /// The status of `name`, or nullptr.
  std::shared_ptr<actor_status> find(const std::string& name) const;

  /// Every actor's snapshot, in name order.
  nlohmann::ordered_json snapshot() const;

private:
  mutable std::mutex mtx_;
  std::map<std::string, std::shared_ptr<actor_status>> actors_;
};

} // namespace metronome::actors
