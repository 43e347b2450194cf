#include "actors/core/table.hpp"

#include "algorithms/sgd/sgd.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>
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

// ssp(s) with s > 0 and async: each update is applied as it arrives, so
// reads get fresher values than the bound needs.
class on_arrival_policy : public consistency_policy {
public:
  explicit on_arrival_policy(std::int64_t s)
      : s_(s)
      , tolerate_(s) {}
  std::string name() const override {
    return s_ < 0 ? "async" : "ssp(" + std::to_string(s_) + ")";
  }
  std::int64_t staleness() const override { return s_; }
  std::int64_t tolerance() const override { return tolerate_; }
  std::string set_staleness(std::int64_t read, std::int64_t tolerate) override {
    if (s_ < 0)
      return consistency_policy::set_staleness(read, tolerate);
    if (read < 1 || tolerate < read)
      return "a live bound is at least 1 and tolerated within " +
             std::to_string(read) + ", not " + std::to_string(tolerate);
    s_ = read;
    tolerate_ = std::max(tolerate_, tolerate);
    return {};
  }
  std::optional<clock_commit> complete(std::int64_t) override {
    return std::nullopt;
  }
  std::int64_t applied(worker_clocks at) const override { return at.finished; }

protected:
  verdict judge(std::size_t worker, std::int64_t clock,
                worker_clocks at) override {
    if (clock >= at.finished)
      return {{}, arrival::apply};
    return {"update from worker " + std::to_string(worker) + " for clock " +
            std::to_string(clock) + " after one for clock " +
            std::to_string(at.finished - 1)};
  }

private:
  std::int64_t s_;
  std::int64_t tolerate_;
};

// bsp, ssp(0): the updates of a clock are buffered and applied together in
// worker order once every worker's is in, so that the result does not
// depend on arrival order.
class bsp_policy : public consistency_policy {
public:
  std::string name() const override { return "bsp"; }
  std::int64_t staleness() const override { return 0; }
  std::optional<clock_commit> complete(std::int64_t clock) override {
    auto i = in_.find(clock);
    if (i == in_.end() ||
        std::count(i->second.begin(), i->second.end(), false) > 0)
      return std::nullopt;
    in_.erase(i);
    clock_commit c;
    c.workers.resize(workers_);
    std::iota(c.workers.begin(), c.workers.end(), std::size_t{0});
    c.divisor = workers_;
    return c;
  }
  std::int64_t applied(worker_clocks at) const override { return at.committed; }

protected:
  verdict judge(std::size_t worker, std::int64_t clock,
                worker_clocks at) override {
    if (clock < at.committed)
      return {"update for clock " + std::to_string(clock) +
              " arrived after that clock was committed"};
    return hold(worker, clock);
  }

  // Which workers' updates are buffered for `clock`.
  std::vector<bool>& held(std::int64_t clock) {
    auto& in = in_[clock];
    in.resize(workers_);
    return in;
  }

  // Buffers the update of `worker` for `clock`, unless it is a second one.
  verdict hold(std::size_t worker, std::int64_t clock) {
    auto& in = held(clock);
    if (in[worker])
      return {"second update from worker " + std::to_string(worker) +
              " for clock " + std::to_string(clock)};
    in[worker] = true;
    return {{}, arrival::buffer};
  }

  void forget_clock(std::int64_t clock) { in_.erase(clock); }

private:
  std::map<std::int64_t, std::vector<bool>> in_;
};

// Synchronous SGD with a cutoff: a clock (a version of the parameters) is
// made of the updates of the workers a leader accepted for it; the others
// are dropped as late. A dead worker's update may never come even though
// the leader had it: the clock goes on without it, at the same scale.
class cutoff_policy : public bsp_policy {
public:
  std::string name() const override { return "cutoff"; }
  void attach(std::size_t workers) override {
    bsp_policy::attach(workers);
    dead_.assign(workers, false);
  }
  std::optional<clock_commit> complete(std::int64_t clock) override;
  std::string accept(std::int64_t clock, std::int64_t committed,
                     std::vector<std::size_t> workers) override;
  void forget(std::size_t worker) override { dead_[worker] = true; }
  void revive(std::size_t worker) override { dead_[worker] = false; }
  void set_step_scaling(step_scaling s) override { scaling_ = s; }
  std::uint64_t late_updates() const override { return late_; }

protected:
  verdict judge(std::size_t worker, std::int64_t clock,
                worker_clocks at) override {
    if (clock < at.committed)
      return late();
    auto a = accepted_.find(clock);
    if (a != accepted_.end() && !accepts(a->second, worker))
      return late();
    return hold(worker, clock);
  }

private:
  static bool accepts(const std::vector<std::size_t>& set, std::size_t w) {
    return std::find(set.begin(), set.end(), w) != set.end();
  }
  verdict late() {
    ++late_;
    return {{}, arrival::drop};
  }

  std::map<std::int64_t, std::vector<std::size_t>> accepted_;
  std::vector<bool> dead_;
  step_scaling scaling_ = step_scaling::fixed;
  std::uint64_t late_ = 0;
};

std::optional<clock_commit> cutoff_policy::complete(std::int64_t clock) {
  auto a = accepted_.find(clock);
  if (a == accepted_.end())
    return std::nullopt;
  auto& in = held(clock);
  clock_commit c;
  for (std::size_t w = 0; w < workers_; ++w) {
    if (!accepts(a->second, w))
      continue;
    if (!in[w] && !dead_[w])
      return std::nullopt;
    if (in[w])
      c.workers.push_back(w);
  }
  c.divisor = scaling_ == step_scaling::fixed
                  ? std::max<std::size_t>(1, a->second.size())
                  : workers_;
  accepted_.erase(a);
  forget_clock(clock);
  return c;
}

std::string cutoff_policy::accept(std::int64_t clock, std::int64_t committed,
                                  std::vector<std::size_t> workers) {
  if (clock != committed)
    return "cutoff for clock " + std::to_string(clock) + " while clock " +
           std::to_string(committed) + " is the one being decided";
  if (accepted_.count(clock))
    return "second cutoff for clock " + std::to_string(clock);
  for (auto w : workers)
    if (w >= workers_ || std::count(workers.begin(), workers.end(), w) != 1)
      return "cutoff for clock " + std::to_string(clock) + " names worker " +
             std::to_string(w) + " twice or out of range";
  auto& in = held(clock);
  for (std::size_t w = 0; w < workers_; ++w)
    if (in[w] && !accepts(workers, w)) {
      in[w] = false;
      ++late_;
    }
  accepted_[clock] = std::move(workers);
  return {};
}

} // namespace

verdict consistency_policy::admit(std::size_t worker, std::int64_t clock,
                                  worker_clocks at) {
  // A worker pushes clock c only after reading at c, which needs every
  // update from clocks below c - s: nothing legitimate is further ahead.
  if (tolerance() >= 0 && clock > at.committed + tolerance())
    return {"update for clock " + std::to_string(clock) + " while clock " +
            std::to_string(at.committed) + " is not committed yet"};
  return judge(worker, clock, at);
}

std::string consistency_policy::set_staleness(std::int64_t, std::int64_t) {
  if (name() == "async")
    return "async has no staleness bound to change";
  if (name() == "cutoff")
    return "cutoff has no staleness bound; its rule sets the pace";
  return "a table under " + name() +
         " buffers the updates of each clock "
         "and cannot take a bound live; start it with ssp or essp and a "
         "bound >= 1";
}

std::string consistency_policy::accept(std::int64_t, std::int64_t,
                                       std::vector<std::size_t>) {
  return "accept needs the cutoff policy";
}

const std::vector<std::string>& consistency_models() {
  static const std::vector<std::string> names = {"bsp", "ssp", "essp", "async",
                                                 "cutoff"};
  return names;
}

std::unique_ptr<consistency_policy> make_policy(const std::string& name,
                                                std::int64_t staleness) {
  if (name == "bsp")
    return std::make_unique<bsp_policy>();
  // essp has ssp's bound; servers also push each commit to subscribers.
  if (name == "ssp" || name == "essp") {
    if (staleness < 0)
      throw std::invalid_argument("ssp needs a staleness bound >= 0");
    if (staleness == 0)
      return std::make_unique<bsp_policy>();
    return std::make_unique<on_arrival_policy>(staleness);
  }
  if (name == "async")
    return std::make_unique<on_arrival_policy>(-1);
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
  policy_->attach(workers);
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
  auto s = policy_->tolerance();
  return !worker || s < 0 || reader_clock <= committed_ + s + 1;
}

std::int64_t table_shard::applied(std::size_t worker) const {
  if (worker >= workers_)
    return committed_;
  return policy_->applied({committed_, worker_clock_[worker]});
}

verdict table_shard::admit(std::size_t worker, std::int64_t clock) {
  if (worker >= workers_)
    return {"worker index " + std::to_string(worker) + " out of range (" +
            std::to_string(workers_) + " workers)"};
  if (clock < 0 || clock >= max_clock)
    return {"clock " + std::to_string(clock) + " out of range"};
  return policy_->admit(worker, clock, {committed_, worker_clock_[worker]});
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
                              messages::float_block values, float rate) {
  if (!keys_.contains(offset, values.size))
    return "keys [" + std::to_string(offset) + ", " +
           std::to_string(offset + values.size) + ") outside shard [" +
           std::to_string(keys_.begin) + ", " + std::to_string(keys_.end) + ")";
  auto v = admit(worker, clock);
  if (!v.error.empty())
    return v.error;
  update u;
  u.offset = offset;
  u.values = std::move(values);
  u.rate = rate;
  record(worker, clock, std::move(u), v.action);
  return {};
}

std::string table_shard::push_sparse(std::size_t worker, std::int64_t clock,
                                     std::vector<std::uint64_t> keys,
                                     messages::float_block values, float rate) {
  if (keys.size() != values.size)
    return "sparse update with " + std::to_string(keys.size()) + " keys and " +
           std::to_string(values.size) + " values";
  for (auto k : keys)
    if (k < keys_.begin || k >= keys_.end)
      return "key " + std::to_string(k) + " outside shard [" +
             std::to_string(keys_.begin) + ", " + std::to_string(keys_.end) +
             ")";
  auto v = admit(worker, clock);
  if (!v.error.empty())
    return v.error;
  update u;
  u.keys = std::move(keys);
  u.values = std::move(values);
  u.rate = rate;
  record(worker, clock, std::move(u), v.action);
  return {};
}

std::string table_shard::clock(std::size_t worker, std::int64_t clock) {
  auto v = admit(worker, clock);
  if (!v.error.empty())
    return v.error;
  record(worker, clock, update{}, v.action);
  return {};
}

std::string table_shard::accept(std::int64_t clock,
                                std::vector<std::size_t> workers) {
  auto error = policy_->accept(clock, committed_, std::move(workers));
  if (error.empty())
    commit_ready();
  return error;
}

void table_shard::forget(std::size_t worker) {
  if (worker >= workers_)
    return;
  policy_->forget(worker);
  commit_ready();
}

void table_shard::revive(std::size_t worker) {
  if (worker < workers_)
    policy_->revive(worker);
}

void table_shard::record(std::size_t worker, std::int64_t clock, update u,
                         arrival a) {
  switch (a) {
  case arrival::drop:
    return;
  case arrival::buffer: {
    auto& slot = pending_[clock];
    slot.resize(workers_);
    slot[worker] = std::move(u);
    note_clock(worker, clock);
    commit_ready();
    return;
  }
  case arrival::apply:
    if (u.values.size > 0)
      apply(u, workers_);
    note_clock(worker, clock);
    committed_ = min_clock();
    take_marks();
    return;
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
  float lr = u.rate > 0 ? u.rate : lr_;
  if (!u.keys.empty()) {
    float scale = lr / static_cast<float>(count);
    for (std::size_t i = 0; i < n; ++i) {
      auto& target = w[u.keys[i] - keys_.begin];
      target =
          rule_ == update_rule::sgd ? target - scale * v[i] : target + v[i];
    }
    return;
  }
  float* target = w.data() + (u.offset - keys_.begin);
  if (rule_ == update_rule::sgd)
    algorithms::apply_sgd(target, v, count, lr, n);
  else
    algorithms::apply_delta(target, v, n);
}

void table_shard::commit_ready() {
  while (auto c = policy_->complete(committed_))
    commit(*c);
}

void table_shard::commit(const clock_commit& c) {
  auto i = pending_.find(committed_);
  if (i != pending_.end() && !same_rate(c, i->second)) {
    // A rate changed live within this clock: each update at its own rate.
    for (auto w : c.workers)
      if (i->second[w].values.size > 0)
        apply(i->second[w], c.divisor);
    pending_.erase(i);
  } else if (i != pending_.end()) {
    if (sum(c, i->second)) {
      update total;
      total.offset = keys_.begin;
      total.values.data = sum_.data();
      total.values.size = sum_.size();
      total.rate = first_rate(c, i->second);
      apply(total, c.divisor);
    }
    pending_.erase(i);
  }
  ++committed_;
  take_marks();
}

float table_shard::first_rate(const clock_commit& c,
                              const std::vector<update>& slot) const {
  for (auto w : c.workers)
    if (slot[w].values.size > 0)
      return slot[w].rate;
  return 0;
}

bool table_shard::same_rate(const clock_commit& c,
                            const std::vector<update>& slot) const {
  auto rate = first_rate(c, slot);
  for (auto w : c.workers)
    if (slot[w].values.size > 0 && slot[w].rate != rate)
      return false;
  return true;
}

bool table_shard::sum(const clock_commit& c, const std::vector<update>& slot) {
  // In worker order, so the result does not depend on arrival order.
  bool initialized = false;
  sum_.resize(keys_.size());
  for (auto w : c.workers) {
    const auto& u = slot[w];
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
  return initialized;
}

} // namespace metronome::actors
