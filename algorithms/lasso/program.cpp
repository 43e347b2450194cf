#include "algorithms/lasso/program.hpp"

#include "algorithms/sgd/minibatch.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace metronome::algorithms::lasso {

using nlohmann::ordered_json;

planner::planner(const regression_data& d, const program_settings& s,
                 std::size_t workers)
    : n_(d.samples())
    , workers_(workers)
    , settings_(s)
    , centering_(center_of(d, s.solver.fit_intercept))
    , beta_(d.features(), 0.0) {
  if (workers == 0 || workers > n_)
    throw std::invalid_argument(
        fmt::format("lasso: {} workers for {} samples", workers, n_));
  if (s.schedule.kind == "priority")
    correlation_ = std::make_unique<column_correlation>(d);
  schedule_ = make_scheduler(s.schedule, d.features(), correlation_.get());
}

bool planner::gap_due() const {
  auto every = settings_.solver.gap_every;
  return (every > 0 && since_gap_ >= every) ||
         (finished_ && (since_gap_ > 0 || gap_ < 0));
}

// The next update round, or nullopt; marks the job finished when it is out
// of rounds or coordinates.
std::optional<round_task> planner::plan_update() {
  if (rounds_ >= settings_.solver.max_rounds) {
    finished_ = true;
    return std::nullopt;
  }
  std::vector<std::uint64_t> busy;
  for (const auto& f : flight_)
    busy.insert(busy.end(), f.keys.begin(), f.keys.end());
  round_task t;
  t.keys = schedule_->next(busy);
  // Refusals of attempts that found nothing count with the next round.
  round_rejected_ += schedule_->rejected();
  if (t.keys.empty()) {
    finished_ = flight_.empty();
    return std::nullopt;
  }
  t.task = partial_sums_task;
  for (auto k : t.keys)
    t.values.push_back(beta_[k]);
  ++rounds_;
  ++since_gap_;
  return t;
}

std::optional<round_task> planner::plan() {
  // A gap round sees every change before it and none after: nothing else
  // is sent until it is committed, so the job stops on the values it judged.
  if (flight_.size() > settings_.pipeline || gap_in_flight_)
    return std::nullopt;
  std::optional<round_task> t;
  if (!finished_ && !gap_due())
    t = plan_update();
  if (!t && gap_due()) {
    // The gap needs the residual of every committed change.
    if (!flight_.empty())
      return std::nullopt;
    t.emplace();
    t->task = gap_task;
    since_gap_ = 0;
    gap_in_flight_ = true;
  }
  if (!t)
    return std::nullopt;
  t->round = next_round_++;
  t->change_keys.swap(change_keys_);
  t->changes.swap(changes_);
  sent_.push_back({flight_.size(), t->task == gap_task ? 0 : round_rejected_});
  if (t->task != gap_task) {
    rejected_ += round_rejected_;
    round_rejected_ = 0;
  }
  flight_.push_back(*t);
  return t;
}

ordered_json planner::commit(std::uint64_t round,
                             const std::vector<round_result>& parts) {
  if (flight_.empty() || flight_.front().round != round)
    throw std::invalid_argument(
        fmt::format("lasso: round {} is not the oldest in flight", round));
  if (parts.size() != workers_)
    throw std::invalid_argument(
        fmt::format("lasso: {} parts for {} workers", parts.size(), workers_));
  auto t = std::move(flight_.front());
  flight_.pop_front();
  auto sent = sent_.front();
  sent_.pop_front();
  auto record = t.task == gap_task ? commit_gap(parts) : commit_sums(t, parts);
  if (t.task != gap_task)
    record["rejected"] = sent.rejected;
  ordered_json out = {{"round", t.round}, {"lag", sent.lag}};
  out.update(record);
  return out;
}

// Adds part `i` of every worker in worker order: the first worker's value,
// then each next one's, as scheduled_descent combines its blocks.
double summed(const std::vector<round_result>& parts, std::size_t i) {
  double sum = parts[0].values[i];
  for (std::size_t w = 1; w < parts.size(); ++w)
    sum += parts[w].values[i];
  return sum;
}

void check_sizes(const std::vector<round_result>& parts, std::size_t size) {
  for (std::size_t w = 0; w < parts.size(); ++w)
    if (parts[w].values.size() != size)
      throw std::invalid_argument(
          fmt::format("lasso: worker/{} sent {} values, expected {}", w,
                      parts[w].values.size(), size));
}

ordered_json planner::commit_sums(const round_task& t,
                                  const std::vector<round_result>& parts) {
  auto k = t.keys.size();
  check_sizes(parts, 2 * k + 1);
  std::vector<double> deltas(k);
  std::size_t nonzero_changes = 0;
  for (std::size_t i = 0; i < k; ++i) {
    double next =
        coordinate_update(summed(parts, 2 * i), summed(parts, 2 * i + 1), n_,
                          settings_.solver.alpha);
    deltas[i] = next - t.values[i];
    nonzero_changes += deltas[i] != 0;
    nnz_ += static_cast<std::int64_t>(next != 0) - (t.values[i] != 0);
    beta_[t.keys[i]] = next;
  }
  schedule_->observe(t.keys.data(), deltas.data(), k);
  change_keys_.insert(change_keys_.end(), t.keys.begin(), t.keys.end());
  changes_.insert(changes_.end(), deltas.begin(), deltas.end());
  updates_ += k;
  // r.r of the residual the round computed on: the objective of b before
  // the changes of the rounds still in flight when it was sent.
  double rr = summed(parts, 2 * k);
  ordered_json record = {
      {"task", "update"},
      {"coordinates", k},
      {"changed", nonzero_changes},
      {"nnz", nnz_},
      {"residual_objective", rr / (2.0 * static_cast<double>(n_))}};
  return record;
}

ordered_json planner::commit_gap(const std::vector<round_result>& parts) {
  auto p = beta_.size();
  check_sizes(parts, p + 3);
  gap_terms total;
  total.xtr.assign(p, 0.0);
  for (std::size_t j = 0; j < p; ++j)
    total.xtr[j] = summed(parts, j);
  total.rr = summed(parts, p);
  total.ry = summed(parts, p + 1);
  total.yy = summed(parts, p + 2);
  auto alpha = settings_.solver.alpha;
  gap_in_flight_ = false;
  gap_ = duality_gap(total, n_, alpha, beta_);
  objective_ = objective(total.rr, n_, alpha, beta_);
  auto threshold = gap_threshold(settings_.solver.tol, total, n_);
  converged_ = gap_ <= threshold;
  diverged_ = !std::isfinite(objective_) || !std::isfinite(gap_);
  if (converged_ || diverged_ || rounds_ >= settings_.solver.max_rounds)
    finished_ = true;
  return {{"task", "gap"},       {"objective", objective_},
          {"gap", gap_},         {"gap_threshold", threshold},
          {"nnz", nnz_},         {"rounds", rounds_},
          {"updates", updates_}, {"rejected", rejected_}};
}

std::string planner::result_text() const {
  std::string text;
  for (auto b : beta_)
    text += fmt::format("{:.17g}\n", b);
  return text;
}

ordered_json planner::summary() const {
  return {{"algorithm", "lasso"},
          {"objective", objective_},
          {"gap", gap_},
          {"converged", converged_},
          {"diverged", diverged_},
          {"nnz", nnz_},
          {"rounds", rounds_},
          {"updates", updates_},
          {"rejected", rejected_},
          {"intercept", intercept(centering_, beta_)},
          {"schedule", settings_.schedule.kind},
          {"pipeline", settings_.pipeline}};
}

worker::worker(const regression_data& d, bool fit_intercept, std::size_t rank,
               std::size_t workers)
    : features_(d.features())
    , block_(d, data_shard(d.samples(), workers, rank).begin,
             data_shard(d.samples(), workers, rank).end,
             center_of(d, fit_intercept)) {}

round_result worker::work(const round_task& t) {
  if (t.change_keys.size() != t.changes.size() ||
      t.keys.size() != t.values.size())
    throw std::invalid_argument("lasso: a round whose keys and values differ "
                                "in number");
  auto in_range = [this](const std::vector<std::uint64_t>& keys) {
    return std::all_of(keys.begin(), keys.end(),
                       [this](std::uint64_t k) { return k < features_; });
  };
  if (!in_range(t.keys) || !in_range(t.change_keys))
    throw std::invalid_argument(fmt::format(
        "lasso: a round with a key beyond the {} features", features_));
  block_.apply(t.change_keys.data(), t.changes.data(), t.changes.size());
  round_result r;
  if (t.task == gap_task) {
    auto g = block_.gap_partial();
    r.values = std::move(g.xtr);
    r.values.insert(r.values.end(), {g.rr, g.ry, g.yy});
    return r;
  }
  if (t.task != partial_sums_task)
    throw std::invalid_argument(
        fmt::format("lasso: unknown round task {}", t.task));
  r.values.resize(2 * t.keys.size());
  block_.partial_sums(t.keys.data(), t.values.data(), t.keys.size(),
                      r.values.data());
  r.values.push_back(block_.residual_norm2());
  return r;
}

} // namespace metronome::algorithms::lasso
