#include "actors/core/cutoff_leader.hpp"

#include <algorithm>

namespace metronome::actors {

cutoff_leader::cutoff_leader(std::size_t workers)
    : workers_(workers)
    , dead_(workers, false)
    , arrived_at_(workers, -1) {
  current_.cutoff = workers;
}

std::size_t cutoff_leader::live() const {
  return static_cast<std::size_t>(
      std::count(dead_.begin(), dead_.end(), false));
}

void cutoff_leader::broadcast(std::int64_t version, double now) {
  version_ = version;
  broadcast_at_ = now;
  std::fill(arrived_at_.begin(), arrived_at_.end(), -1.0);
  order_.clear();
  recorded_ = false;
  late_ = false;
  decision_seconds_ = 0;
}

void cutoff_leader::decision(std::int64_t version,
                             const algorithms::cutoff_decision& d,
                             double seconds, const std::string& rule) {
  // A decision is late once the version's first gradient is in: by then
  // the cutoff may already have been reached with the previous one.
  if (version != version_ || late_ || recorded_)
    return;
  current_ = d;
  current_rule_ = rule;
  decided_for_ = version;
  decision_seconds_ = seconds;
}

void cutoff_leader::arrived(std::size_t worker, double now) {
  if (worker >= workers_ || dead_[worker] || arrived_at_[worker] >= 0 ||
      version_ < 0)
    return;
  if (order_.empty() && decided_for_ != version_ && !late_) {
    late_ = true;
    ++late_decisions_;
  }
  arrived_at_[worker] = now - broadcast_at_;
  order_.push_back(worker);
}

void cutoff_leader::lost(std::size_t worker) {
  if (worker < workers_)
    dead_[worker] = true;
}

void cutoff_leader::found(std::size_t worker) {
  if (worker < workers_)
    dead_[worker] = false;
}

std::optional<cutoff_record> cutoff_leader::reached() {
  auto live_workers = live();
  auto c = std::min(std::max<std::size_t>(1, current_.cutoff), live_workers);
  // A lost worker's gradient is not taken even when it is here: the other
  // servers may never get theirs.
  std::vector<std::size_t> live_order;
  for (auto w : order_)
    if (!dead_[w])
      live_order.push_back(w);
  if (recorded_ || version_ < 0 || live_workers == 0 || live_order.size() < c)
    return std::nullopt;
  recorded_ = true;
  cutoff_record r;
  r.version = version_;
  r.cutoff = c;
  r.accepted.assign(live_order.begin(), live_order.begin() + c);
  r.cutoff_seconds = arrived_at_[r.accepted.back()];
  r.observation.seconds.assign(workers_, r.cutoff_seconds);
  r.observation.censored.assign(workers_, 1);
  for (auto w : r.accepted) {
    r.observation.seconds[w] = arrived_at_[w];
    r.observation.censored[w] = 0;
  }
  r.decision_seconds = late_ ? 0 : decision_seconds_;
  r.decision_late = late_;
  r.expected_throughput = current_.expected_throughput;
  r.rule = current_rule_;
  return r;
}

} // namespace metronome::actors
