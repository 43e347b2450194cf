#include "actors/core/cutoff_ledger.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace metronome::actors {

namespace wire = messages::wire;

namespace {

bool well_formed(const wire::Cutoff& cut, std::size_t workers) {
  return cut.accepted() != nullptr && cut.runtimes() != nullptr &&
         cut.censored() != nullptr && cut.runtimes()->size() == workers &&
         cut.censored()->size() == workers;
}

json decision_fields(const wire::Cutoff& cut,
                     const std::vector<std::size_t>& dropped) {
  std::vector<double> curve;
  if (cut.expected_throughput() != nullptr)
    curve.assign(cut.expected_throughput()->begin(),
                 cut.expected_throughput()->end());
  return {{"cutoff", cut.accepted()->size()},
          {"cutoff_s", cut.cutoff_seconds()},
          {"accepted", std::vector<std::uint32_t>(cut.accepted()->begin(),
                                                  cut.accepted()->end())},
          {"dropped", dropped},
          {"runtime_s",
           std::vector<double>(cut.runtimes()->begin(), cut.runtimes()->end())},
          {"censored",
           std::vector<bool>(cut.censored()->begin(), cut.censored()->end())},
          {"decision_s", cut.decision_seconds()},
          {"decision_late", cut.decision_late()},
          {"late_gradients", cut.late_gradients()},
          {"expected_throughput", curve},
          {"cutoff_rule", cut.rule() ? cut.rule()->str() : std::string()}};
}

} // namespace

cutoff_ledger::cutoff_ledger(std::size_t workers)
    : workers_(workers)
    , lost_(workers, false) {}

cutoff_ledger::entry& cutoff_ledger::at(std::uint64_t version) {
  auto& e = versions_[version];
  if (e.reported.empty()) {
    e.reported.resize(workers_);
    e.losses.resize(workers_);
    e.samples.resize(workers_);
  }
  return e;
}

void cutoff_ledger::report(std::uint64_t version, std::size_t worker,
                           double loss, std::uint64_t samples) {
  if (version < closed_ || worker >= workers_)
    return;
  auto& e = at(version);
  if (e.reported[worker])
    return;
  e.reported[worker] = true;
  e.losses[worker] = loss;
  e.samples[worker] = samples;
}

std::optional<std::vector<std::string>>
cutoff_ledger::decide(std::int64_t version, const wire::Cutoff& cut) {
  if (version < 0 || static_cast<std::uint64_t>(version) < closed_ ||
      !well_formed(cut, workers_))
    return std::nullopt;
  auto& e = at(static_cast<std::uint64_t>(version));
  std::vector<std::string> rows;
  if (e.decided)
    return rows;
  e.decided = true;
  std::vector<bool> in(workers_);
  std::vector<std::size_t> dropped;
  for (auto w : *cut.accepted())
    if (w < workers_) {
      in[w] = true;
      e.accepted.push_back(w);
    }
  for (std::size_t w = 0; w < workers_; ++w) {
    if (!in[w])
      dropped.push_back(w);
    rows.push_back(fmt::format("{},{},{:.6f},{}", version, w,
                               cut.runtimes()->Get(w),
                               cut.censored()->Get(w) ? 1 : 0));
  }
  e.fields = decision_fields(cut, dropped);
  gradients_ += cut.accepted()->size();
  late_gradients_ = cut.late_gradients();
  late_decisions_ += cut.decision_late() ? 1 : 0;
  decision_seconds_ += cut.decision_seconds();
  cutoff_seconds_ += cut.cutoff_seconds();
  return rows;
}

std::optional<cutoff_version>
cutoff_ledger::complete(std::uint64_t version) const {
  auto it = versions_.find(version);
  if (it == versions_.end() || !it->second.decided)
    return std::nullopt;
  const auto& e = it->second;
  for (auto w : e.accepted)
    if (!e.reported[w] && !lost_[w])
      return std::nullopt;
  cutoff_version v;
  for (auto w : e.accepted)
    if (e.reported[w]) {
      ++v.count;
      v.loss += e.losses[w];
      v.samples += e.samples[w];
    }
  return v;
}

const json& cutoff_ledger::fields(std::uint64_t version) const {
  static const json none = json::object();
  auto it = versions_.find(version);
  return it == versions_.end() ? none : it->second.fields;
}

void cutoff_ledger::close(std::uint64_t version) {
  versions_.erase(versions_.begin(), versions_.upper_bound(version));
  closed_ = std::max(closed_, version + 1);
}

void cutoff_ledger::lose(std::size_t worker) {
  if (worker < workers_)
    lost_[worker] = true;
}

std::size_t cutoff_ledger::lost() const {
  return static_cast<std::size_t>(std::count(lost_.begin(), lost_.end(), true));
}

json cutoff_ledger::totals(double wall_seconds) const {
  auto versions = static_cast<double>(std::max<std::uint64_t>(1, closed_));
  auto in_time = std::max<double>(1, versions - late_decisions_);
  return {{"mean_cutoff", static_cast<double>(gradients_) / versions},
          {"mean_cutoff_s", cutoff_seconds_ / versions},
          {"gradients_per_s",
           static_cast<double>(gradients_) / std::max(wall_seconds, 1e-9)},
          {"late_gradients", late_gradients_},
          {"late_decisions", late_decisions_},
          {"decision_mean_s", decision_seconds_ / in_time},
          {"lost_workers", lost()}};
}

} // namespace metronome::actors
