#include "actors/core/table.hpp"

#include "algorithms/sgd/sgd.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace metronome::actors {

key_range shard_keys(std::uint64_t keys, std::size_t shards,
                     std::size_t shard) {
  std::uint64_t base = keys / shards;
  std::uint64_t extra = keys % shards;
  std::uint64_t begin = shard * base + std::min<std::uint64_t>(shard, extra);
  return {begin, begin + base + (shard < extra ? 1 : 0)};
}

std::vector<partition> partitions(const std::vector<table_layout>& tables,
                                  std::size_t servers) {
  std::vector<partition> out;
  for (std::uint32_t t = 0; t < tables.size(); ++t)
    for (std::size_t s = 0; s < servers; ++s) {
      auto k = shard_keys(tables[t].keys.size(), servers, s);
      if (k.size() > 0)
        out.push_back(
            {t,
             s,
             {tables[t].keys.begin + k.begin, tables[t].keys.begin + k.end}});
    }
  return out;
}

namespace {

// Clocks at or beyond this are refused, so clock + 1 never overflows.
constexpr std::int64_t max_clock = std::int64_t{1} << 62;

constexpr std::size_t max_held_snapshots = 8;

// ssp(s): a read at clock c waits for the clocks below c - s. bsp is
// ssp(0): its updates of a clock are applied together in worker order, so
// the result does not depend on arrival order. With s > 0 updates are
// applied as they arrive: reads get fresher values than the bound needs.
class ssp_policy : public consistency_policy {
public:
  explicit ssp_policy(std::int64_t s)
      : s_(s) {}
  std::string name() const override {
    return s_ == 0 ? "bsp" : "ssp(" + std::to_string(s_) + ")";
  }
  bool aggregates() const override { return s_ == 0; }
  std::int64_t staleness() const override { return s_; }

private:
  std::int64_t s_;
};

class async_policy : public consistency_policy {
public:
  std::string name() const override { return "async"; }
  bool aggregates() const override { return false; }
  std::int64_t staleness() const override { return -1; }
};

// Synchronous SGD with a cutoff: a clock (a version of the parameters) is
// made of the updates of the workers a leader accepted for it.
class cutoff_policy : public consistency_policy {
public:
  std::string name() const override { return "cutoff"; }
  bool aggregates() const override { return true; }
  std::int64_t staleness() const override { return 0; }
  bool cuts_off() const override { return true; }
};

} // namespace

const std::vector<std::string>& consistency_models() {
  static const std::vector<std::string> names = {"bsp", "ssp", "essp", "async",
                                                 "cutoff"};
  return names;
}

std::unique_ptr<consistency_policy> make_policy(const std::string& name,
                                                std::int64_t staleness) {
  if (name == "bsp")
    return std::make_unique<ssp_policy>(0);
  // essp has ssp's bound; servers also push each commit to subscribers.
  if (name == "ssp" || name == "essp") {
    if (staleness < 0)
      throw std::invalid_argument("ssp needs a staleness bound >= 0");
    return std::make_unique<ssp_policy>(staleness);
  }
  if (name == "async")
    return std::make_unique<async_policy>();
  if (name == "cutoff")
    return std::make_unique<cutoff_policy>();
  std::string valid;
  for (const auto& m : consistency_models())
    valid += (valid.empty() ? "" : ", ") + m;
  throw std::invalid_argument("unknown consistency model '" + name +
                              "' (valid: " + valid + ")");
}

table_shard::table_shard(key_range keys, std::size_t workers, update_rule rule,
                         float lr, std::unique_ptr<consistency_policy> policy,
                         std::vector<float> initial)
    : keys_(keys)
    , workers_(workers)
    , rule_(rule)
    , lr_(lr)
    , policy_(std::move(policy))
    , values_(std::make_shared<std::vector<float>>(std::move(initial)))
    , worker_clock_(workers, 0) {
  if (values_->size() != keys.size())
    throw std::invalid_argument("initial values do not match the key range");
}

std::int64_t table_shard::min_clock() const {
  if (worker_clock_.empty())
    return 0;
  return *std::min_element(worker_clock_.begin(), worker_clock_.end());
}

bool table_shard::plausible_read(std::int64_t reader_clock, bool worker) const {
  if (reader_clock < 0 || reader_clock >= max_clock)
    return false;
  // A worker reads at c after pushing c - 1, which needs c - 1 <= committed
  // + s: nothing legitimate is further ahead.
  auto s = policy_->staleness();
  return !worker || s < 0 || reader_clock <= committed_ + s + 1;
}

std::int64_t table_shard::applied(std::size_t worker) const {
  if (policy_->aggregates() || worker >= workers_)
    return committed_;
  return worker_clock_[worker];
}

std::string table_shard::check(std::size_t worker, std::int64_t clock) const {
  if (worker >= workers_)
    return "worker index " + std::to_string(worker) + " out of range (" +
           std::to_string(workers_) + " workers)";
  if (clock < 0 || clock >= max_clock)
    return "clock " + std::to_string(clock) + " out of range";
  // A worker pushes clock c only after reading at c, which needs every
  // update from clocks below c - s: nothing legitimate is further ahead.
  if (policy_->staleness() >= 0 && clock > committed_ + policy_->staleness())
    return "update for clock " + std::to_string(clock) + " while clock " +
           std::to_string(committed_) + " is not committed yet";
  if (policy_->aggregates()) {
    if (clock < committed_ && policy_->cuts_off())
      return {}; // late: record() drops it
    if (clock < committed_)
      return "update for clock " + std::to_string(clock) +
             " arrived after that clock was committed";
    auto i = pending_.find(clock);
    if (i != pending_.end() && i->second[worker].present)
      return "second update from worker " + std::to_string(worker) +
             " for clock " + std::to_string(clock);
  } else if (clock < worker_clock_[worker]) {
    return "update from worker " + std::to_string(worker) + " for clock " +
           std::to_string(clock) + " after one for clock " +
           std::to_string(worker_clock_[worker] - 1);
  }
  return {};
}

void table_shard::note_clock(std::size_t worker, std::int64_t clock) {
  worker_clock_[worker] = std::max(worker_clock_[worker], clock + 1);
}

std::vector<float>& table_shard::writable() {
  if (values_.use_count() > 1)
    values_ = std::make_shared<std::vector<float>>(*values_);
  return *values_;
}

std::string table_shard::push(std::size_t worker, std::int64_t clock,
                              std::uint64_t offset,
                              messages::float_block values) {
  if (!keys_.contains(offset, values.size))
    return "keys [" + std::to_string(offset) + ", " +
           std::to_string(offset + values.size) + ") outside shard [" +
           std::to_string(keys_.begin) + ", " + std::to_string(keys_.end) + ")";
  if (auto error = check(worker, clock); !error.empty())
    return error;
  update u;
  u.offset = offset;
  u.values = std::move(values);
  record(worker, clock, std::move(u));
  return {};
}

std::string table_shard::push_sparse(std::size_t worker, std::int64_t clock,
                                     std::vector<std::uint64_t> keys,
                                     messages::float_block values) {
  if (keys.size() != values.size)
    return "sparse update with " + std::to_string(keys.size()) + " keys and " +
           std::to_string(values.size) + " values";
  for (auto k : keys)
    if (k < keys_.begin || k >= keys_.end)
      return "key " + std::to_string(k) + " outside shard [" +
             std::to_string(keys_.begin) + ", " + std::to_string(keys_.end) +
             ")";
  if (auto error = check(worker, clock); !error.empty())
    return error;
  update u;
  u.keys = std::move(keys);
  u.values = std::move(values);
  record(worker, clock, std::move(u));
  return {};
}

std::string table_shard::clock(std::size_t worker, std::int64_t clock) {
  if (auto error = check(worker, clock); !error.empty())
    return error;
  record(worker, clock, update{});
  return {};
}

bool table_shard::is_late(std::size_t worker, std::int64_t clock) const {
  if (!policy_->cuts_off())
    return false;
  if (clock < committed_)
    return true;
  auto i = accepted_.find(clock);
  return i != accepted_.end() && std::find(i->second.begin(), i->second.end(),
                                           worker) == i->second.end();
}

std::string table_shard::accept(std::int64_t clock,
                                std::vector<std::size_t> workers) {
  if (!policy_->cuts_off())
    return "accept needs the cutoff policy";
  if (clock != committed_)
    return "cutoff for clock " + std::to_string(clock) + " while clock " +
           std::to_string(committed_) + " is the one being decided";
  if (accepted_.count(clock))
    return "second cutoff for clock " + std::to_string(clock);
  for (auto w : workers)
    if (w >= workers_ || std::count(workers.begin(), workers.end(), w) != 1)
      return "cutoff for clock " + std::to_string(clock) + " names worker " +
             std::to_string(w) + " twice or out of range";
  auto& slot = pending_[clock];
  slot.resize(workers_);
  for (std::size_t w = 0; w < workers_; ++w)
    if (slot[w].present &&
        std::find(workers.begin(), workers.end(), w) == workers.end()) {
      slot[w] = update{};
      ++late_;
    }
  accepted_[clock] = std::move(workers);
  commit_ready();
  return {};
}

void table_shard::forget(std::size_t worker) {
  if (worker >= workers_)
    return;
  dead_.resize(workers_);
  dead_[worker] = true;
  commit_ready();
}

void table_shard::revive(std::size_t worker) {
  if (worker < dead_.size())
    dead_[worker] = false;
}

void table_shard::record(std::size_t worker, std::int64_t clock, update u) {
  u.present = true;
  if (is_late(worker, clock)) {
    ++late_;
    return;
  }
  if (policy_->aggregates()) {
    auto& slot = pending_[clock];
    slot.resize(workers_);
    slot[worker] = std::move(u);
    note_clock(worker, clock);
    commit_ready();
  } else {
    if (u.values.size > 0)
      apply(u, workers_);
    note_clock(worker, clock);
    committed_ = min_clock();
    take_marks();
  }
}

void table_shard::mark(std::int64_t clock) {
  marks_.emplace(clock, nullptr);
  take_marks();
}

void table_shard::take_marks() {
  std::size_t held = 0;
  for (auto i = marks_.begin(); i != marks_.end() && i->first <= committed_;
       ++i) {
    if (!i->second)
      i->second = values_; // copy-on-write keeps it as it is now
    ++held;
  }
  // Snapshots nobody reads fast enough are dropped, oldest first: a read at
  // a dropped clock gets the current values instead of unbounded memory.
  for (auto i = marks_.begin(); held > max_held_snapshots; --held)
    i = marks_.erase(i);
}

std::shared_ptr<const std::vector<float>>
table_shard::snapshot_at(std::int64_t clock) {
  auto i = marks_.find(clock);
  if (i == marks_.end() || !i->second)
    return nullptr;
  auto snap = std::move(i->second);
  marks_.erase(i);
  return snap;
}

void table_shard::apply(const update& u, std::size_t count) {
  auto& w = writable();
  const float* v = u.values.data;
  std::size_t n = u.values.size;
  if (!u.keys.empty()) {
    float scale = lr_ / static_cast<float>(count);
    for (std::size_t i = 0; i < n; ++i) {
      auto& target = w[u.keys[i] - keys_.begin];
      target =
          rule_ == update_rule::sgd ? target - scale * v[i] : target + v[i];
    }
    return;
  }
  float* target = w.data() + (u.offset - keys_.begin);
  if (rule_ == update_rule::sgd)
    algorithms::apply_sgd(target, v, count, lr_, n);
  else
    algorithms::apply_delta(target, v, n);
}

void table_shard::commit_ready() {
  for (;;) {
    auto i = pending_.find(committed_);
    if (i == pending_.end())
      return;
    auto& slot = i->second;
    slot.resize(workers_);
    std::size_t count = workers_;
    if (policy_->cuts_off()) {
      // A dead worker's update may never come here even though the leader
      // had it: the version goes on without it, at the same scale.
      dead_.resize(workers_);
      auto a = accepted_.find(committed_);
      if (a == accepted_.end() ||
          std::any_of(a->second.begin(), a->second.end(), [&](std::size_t w) {
            return !slot[w].present && !dead_[w];
          }))
        return;
      if (scaling_ == step_scaling::fixed)
        count = std::max<std::size_t>(1, a->second.size());
      accepted_.erase(a);
    } else if (std::any_of(slot.begin(), slot.end(),
                           [](const update& u) { return !u.present; })) {
      return;
    }
    // Sum in worker order so the result does not depend on arrival order.
    bool initialized = false;
    sum_.resize(keys_.size());
    for (const auto& u : slot) {
      if (u.values.size == 0)
        continue;
      bool whole = u.keys.empty() && u.offset == keys_.begin &&
                   u.values.size == keys_.size();
      if (!initialized && whole) {
        std::memcpy(sum_.data(), u.values.data, u.values.size * sizeof(float));
        initialized = true;
        continue;
      }
      if (!initialized) {
        std::fill(sum_.begin(), sum_.end(), 0.0f);
        initialized = true;
      }
      if (u.keys.empty()) {
        algorithms::accumulate(sum_.data() + (u.offset - keys_.begin),
                               u.values.data, u.values.size);
      } else {
        for (std::size_t k = 0; k < u.keys.size(); ++k)
          sum_[u.keys[k] - keys_.begin] += u.values.data[k];
      }
    }
    if (initialized) {
      update total;
      total.offset = keys_.begin;
      total.values.data = sum_.data();
      total.values.size = sum_.size();
      apply(total, count);
    }
    pending_.erase(i);
    ++committed_;
    take_marks();
  }
}

} // namespace metronome::actors
