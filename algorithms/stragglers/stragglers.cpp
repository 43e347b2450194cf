#include "algorithms/stragglers/stragglers.hpp"

#include "algorithms/data/dataset.hpp"
#include "algorithms/data/input_file.hpp"
#include "algorithms/data/text.hpp"
#include "algorithms/random.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace metronome::algorithms {

namespace {

constexpr double two_pi = 6.283185307179586476925286766559;

constexpr const char* valid_models =
    "none, constant, lognormal, pareto, groups, periodic, replay, regime";

enum class stream : std::uint64_t { worker = 1, group = 2, regime = 3 };

/// A generator whose state depends only on the arguments.
std::mt19937_64 generator(std::uint64_t seed, std::size_t rule, stream kind,
                          std::uint64_t who, std::uint64_t iteration) {
  std::uint64_t h = splitmix64(seed);
  h = splitmix64(h ^ (static_cast<std::uint64_t>(rule) << 8 |
                      static_cast<std::uint64_t>(kind)));
  h = splitmix64(h ^ who);
  h = splitmix64(h ^ iteration);
  return std::mt19937_64(h);
}

/// Standard normal by Box-Muller on two open uniforms.
double normal(std::mt19937_64& gen) {
  double u1 = uniform_open(gen);
  double u2 = uniform_open(gen);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(two_pi * u2);
}

double lognormal(std::mt19937_64& gen, double mu, double sigma) {
  return std::exp(mu + sigma * normal(gen));
}

double clamp_compute(double compute_seconds) {
  return std::max(0.0, compute_seconds);
}

/// What a worker following a rule knows about itself: its rank and its
/// position among the workers of the rule.
struct member {
  std::size_t worker = 0;
  std::size_t position = 0;
};

class rule_model {
public:
  virtual ~rule_model() = default;
  virtual double delay(const member& m, std::uint64_t iteration,
                       double compute_seconds) const = 0;
};

class constant_rule : public rule_model {
public:
  explicit constant_rule(double factor)
      : factor_(factor) {}

  double delay(const member&, std::uint64_t, double compute) const override {
    return (factor_ - 1) * clamp_compute(compute);
  }

private:
  double factor_;
};

class lognormal_rule : public rule_model {
public:
  lognormal_rule(std::uint64_t seed, std::size_t rule, double mu, double sigma)
      : seed_(seed)
      , rule_(rule)
      , mu_(mu)
      , sigma_(sigma) {}

  double delay(const member& m, std::uint64_t iteration,
               double) const override {
    auto gen = generator(seed_, rule_, stream::worker, m.worker, iteration);
    return lognormal(gen, mu_, sigma_);
  }

private:
  std::uint64_t seed_;
  std::size_t rule_;
  double mu_;
  double sigma_;
};

class pareto_rule : public rule_model {
public:
  pareto_rule(std::uint64_t seed, std::size_t rule, double scale, double alpha)
      : seed_(seed)
      , rule_(rule)
      , scale_(scale)
      , alpha_(alpha) {}

  double delay(const member& m, std::uint64_t iteration,
               double) const override {
    auto gen = generator(seed_, rule_, stream::worker, m.worker, iteration);
    double u = uniform_open(gen);
    return scale_ * std::max(0.0, std::pow(u, -1.0 / alpha_) - 1.0);
  }

private:
  std::uint64_t seed_;
  std::size_t rule_;
  double scale_;
  double alpha_;
};

class groups_rule : public rule_model {
public:
  groups_rule(std::uint64_t seed, std::size_t rule, const straggler_spec& s)
      : seed_(seed)
      , rule_(rule)
      , mu_(s.mu)
      , sigma_(s.sigma)
      , groups_(s.groups)
      , own_share_(s.own_share) {}

  double delay(const member& m, std::uint64_t iteration,
               double) const override {
    std::uint64_t group = m.position % groups_;
    auto shared = generator(seed_, rule_, stream::group, group, iteration);
    double d = lognormal(shared, mu_, sigma_);
    if (own_share_ > 0) {
      auto own = generator(seed_, rule_, stream::worker, m.worker, iteration);
      d += own_share_ * lognormal(own, mu_, sigma_);
    }
    return d;
  }

private:
  std::uint64_t seed_;
  std::size_t rule_;
  double mu_;
  double sigma_;
  std::size_t groups_;
  double own_share_;
};

class periodic_rule : public rule_model {
public:
  explicit periodic_rule(const straggler_spec& s)
      : factor_(s.factor)
      , period_(s.period)
      , slow_(s.slow_iterations) {}

  double delay(const member&, std::uint64_t iteration,
               double compute) const override {
    if (iteration % period_ >= slow_)
      return 0;
    return (factor_ - 1) * clamp_compute(compute);
  }

private:
  double factor_;
  std::uint64_t period_;
  std::uint64_t slow_;
};

class regime_rule : public rule_model {
public:
  /// Chains are generated in iteration order; further than this would take
  /// unreasonable time and memory (one bit per group and iteration).
  static constexpr std::uint64_t max_iterations = std::uint64_t{1} << 32;

  regime_rule(std::uint64_t seed, std::size_t rule, const straggler_spec& s)
      : seed_(seed)
      , rule_(rule)
      , factor_(s.factor)
      , mu_(s.mu)
      , sigma_(s.sigma)
      , own_share_(s.own_share)
      , p_slow_(s.p_slow)
      , p_recover_(s.p_recover)
      , chains_(s.groups) {
    double rate = p_slow_ + p_recover_;
    stationary_slow_ = rate > 0 ? p_slow_ / rate : 0;
    for (std::size_t g = 0; g < chains_.size(); ++g)
      chains_[g].gen = generator(seed_, rule_, stream::regime, g, 0);
  }

  double delay(const member& m, std::uint64_t iteration,
               double compute) const override {
    double d = 0;
    if (slow(m.position % chains_.size(), iteration))
      d = (factor_ - 1) * clamp_compute(compute);
    if (own_share_ > 0) {
      auto own = generator(seed_, rule_, stream::worker, m.worker, iteration);
      d += own_share_ * lognormal(own, mu_, sigma_);
    }
    return d;
  }

private:
  /// A group's chain up to `length` iterations: bit t of `slow` is its state
  /// in iteration t, `gen` continues where the chain stopped.
  struct chain {
    std::vector<std::uint64_t> slow;
    std::uint64_t length = 0;
    bool state = false;
    std::mt19937_64 gen;
  };

  bool slow(std::size_t group, std::uint64_t iteration) const {
    if (iteration >= max_iterations)
      throw std::out_of_range(
          fmt::format("straggler delay: regime iteration {} beyond {}",
                      iteration, max_iterations));
    std::lock_guard<std::mutex> lock(mutex_);
    chain& c = chains_[group];
    while (c.length <= iteration) {
      double u = uniform_open(c.gen);
      if (c.length == 0)
        c.state = u < stationary_slow_;
      else
        c.state = c.state ? u >= p_recover_ : u < p_slow_;
      if (c.length % 64 == 0)
        c.slow.push_back(0);
      if (c.state)
        c.slow.back() |= std::uint64_t{1} << (c.length % 64);
      ++c.length;
    }
    return (c.slow[iteration / 64] >> (iteration % 64) & 1) != 0;
  }

  std::uint64_t seed_;
  std::size_t rule_;
  double factor_;
  double mu_;
  double sigma_;
  double own_share_;
  double p_slow_;
  double p_recover_;
  double stationary_slow_ = 0;
  mutable std::mutex mutex_;
  mutable std::vector<chain> chains_;
};

class replay_rule : public rule_model {
public:
  /// `seconds[w]` holds one recorded time per trace iteration for every
  /// worker `w` of the rule.
  explicit replay_rule(std::vector<std::vector<double>> seconds)
      : seconds_(std::move(seconds)) {}

  double delay(const member& m, std::uint64_t iteration,
               double compute) const override {
    const auto& row = seconds_[m.worker];
    double recorded = row[iteration % row.size()];
    return std::max(0.0, recorded - clamp_compute(compute));
  }

private:
  std::vector<std::vector<double>> seconds_;
};

class none_rule : public rule_model {
public:
  double delay(const member&, std::uint64_t, double) const override {
    return 0;
  }
};

class combined_model : public straggler_model {
public:
  combined_model(std::vector<std::unique_ptr<rule_model>> rules,
                 std::vector<const rule_model*> rule_of,
                 std::vector<std::size_t> position)
      : rules_(std::move(rules))
      , rule_of_(std::move(rule_of))
      , position_(std::move(position)) {}

  double delay(std::size_t worker, std::uint64_t iteration,
               double compute_seconds) const override {
    if (worker >= rule_of_.size())
      throw std::out_of_range(
          fmt::format("straggler delay: worker {} out of range (workers: {})",
                      worker, rule_of_.size()));
    const rule_model* rule = rule_of_[worker];
    if (rule == nullptr)
      return 0;
    return rule->delay({worker, position_[worker]}, iteration, compute_seconds);
  }

private:
  std::vector<std::unique_ptr<rule_model>> rules_;
  std::vector<const rule_model*> rule_of_;
  std::vector<std::size_t> position_;
};

class rule_checker {
public:
  rule_checker(std::size_t index, const straggler_spec& spec)
      : index_(index)
      , spec_(spec) {}

  void require(bool ok, const std::string& what) const {
    if (!ok)
      throw std::invalid_argument(
          fmt::format("stragglers[{}] ({}): {}", index_, spec_.model, what));
  }

  void finite(double value, const char* field) const {
    require(std::isfinite(value), fmt::format("{} must be finite", field));
  }

  void at_least(double value, double bound, const char* field) const {
    require(value >= bound, fmt::format("{} must be >= {}", field, bound));
    finite(value, field);
  }

  void positive(double value, const char* field) const {
    require(value > 0, fmt::format("{} must be > 0", field));
    finite(value, field);
  }

  void probability(double value, const char* field) const {
    require(value >= 0 && value <= 1,
            fmt::format("{} must be in [0, 1]", field));
  }

private:
  std::size_t index_;
  const straggler_spec& spec_;
};

bool known_model(const std::string& m) {
  return m == "none" || m == "constant" || m == "lognormal" || m == "pareto" ||
         m == "groups" || m == "periodic" || m == "replay" || m == "regime";
}

void validate(std::size_t index, const straggler_spec& s, std::size_t workers) {
  if (!known_model(s.model))
    throw std::invalid_argument(
        fmt::format("stragglers[{}]: unknown model '{}' (valid: {})", index,
                    s.model, valid_models));
  rule_checker check(index, s);
  std::vector<bool> listed(workers, false);
  for (std::size_t w : s.workers) {
    check.require(
        w < workers,
        fmt::format("worker {} out of range (workers: {})", w, workers));
    check.require(!listed[w], fmt::format("worker {} listed twice", w));
    listed[w] = true;
  }
  const std::string& m = s.model;
  if (m == "constant" || m == "periodic" || m == "regime")
    check.at_least(s.factor, 1, "factor");
  if (m == "lognormal" || m == "groups" || m == "regime") {
    check.finite(s.mu, "mu");
    check.at_least(s.sigma, 0, "sigma");
  }
  if (m == "pareto") {
    check.positive(s.scale, "scale");
    check.positive(s.alpha, "alpha");
  }
  if (m == "groups" || m == "regime") {
    check.require(s.groups >= 1, "groups must be >= 1");
    check.at_least(s.own_share, 0, "own_share");
  }
  if (m == "regime") {
    check.probability(s.p_slow, "p_slow");
    check.probability(s.p_recover, "p_recover");
  }
  if (m == "periodic") {
    check.require(s.period >= 1, "period must be >= 1");
    check.require(
        s.slow_iterations <= s.period,
        fmt::format("slow_iterations must be <= period ({})", s.period));
  }
  if (m == "replay")
    check.require(!s.trace.empty(), "trace must name a CSV file");
}

/// Recorded seconds per trace iteration for each of `members`; every member
/// needs one row for each iteration between the first and the last of the
/// whole trace.
std::vector<std::vector<double>>
replay_table(std::size_t index, const straggler_spec& s,
             const std::vector<std::size_t>& members, std::size_t workers) {
  rule_checker check(index, s);
  std::vector<trace_row> rows = read_trace(s.trace);
  std::uint64_t first = rows.front().iteration;
  std::uint64_t last = first;
  for (const trace_row& r : rows) {
    first = std::min(first, r.iteration);
    last = std::max(last, r.iteration);
  }
  std::vector<bool> is_member(workers, false);
  for (std::size_t w : members)
    is_member[w] = true;
  std::vector<std::vector<std::pair<std::uint64_t, double>>> by_worker(workers);
  for (const trace_row& r : rows)
    if (r.worker < workers && is_member[r.worker])
      by_worker[r.worker].emplace_back(r.iteration, r.seconds);
  std::vector<std::vector<double>> table(workers);
  for (std::size_t w : members) {
    auto& mine = by_worker[w];
    check.require(!mine.empty(), fmt::format("trace '{}' has no rows for "
                                             "worker {}",
                                             s.trace, w));
    std::sort(mine.begin(), mine.end());
    if (mine.size() - 1 != last - first) {
      std::uint64_t missing = first;
      for (const auto& [iteration, seconds] : mine) {
        if (iteration != missing)
          break;
        ++missing;
      }
      check.require(false,
                    fmt::format("trace '{}' has no row for worker {} in "
                                "iteration {} (every replayed worker needs "
                                "iterations {} to {})",
                                s.trace, w, missing, first, last));
    }
    table[w].reserve(mine.size());
    for (const auto& [iteration, seconds] : mine)
      table[w].push_back(seconds);
  }
  return table;
}

std::unique_ptr<rule_model> make_rule(std::size_t index,
                                      const straggler_spec& s,
                                      const std::vector<std::size_t>& members,
                                      std::size_t workers, std::uint64_t seed) {
  const std::string& m = s.model;
  if (m == "constant")
    return std::make_unique<constant_rule>(s.factor);
  if (m == "lognormal")
    return std::make_unique<lognormal_rule>(seed, index, s.mu, s.sigma);
  if (m == "pareto")
    return std::make_unique<pareto_rule>(seed, index, s.scale, s.alpha);
  if (m == "groups")
    return std::make_unique<groups_rule>(seed, index, s);
  if (m == "periodic")
    return std::make_unique<periodic_rule>(s);
  if (m == "regime")
    return std::make_unique<regime_rule>(seed, index, s);
  if (m == "replay")
    return std::make_unique<replay_rule>(
        replay_table(index, s, members, workers));
  return std::make_unique<none_rule>();
}

constexpr std::size_t trace_max_line = 4096;

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  while (true) {
    std::size_t comma = line.find(',');
    fields.push_back(trim(line.substr(0, comma)));
    if (comma == std::string_view::npos)
      return fields;
    line.remove_prefix(comma + 1);
  }
}

template <class T>
bool parse_unsigned(std::string_view s, T& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

bool parse_number(std::string_view s, double& out) {
  if (!s.empty() && s.front() == '+') {
    s.remove_prefix(1);
    if (!s.empty() && (s.front() == '+' || s.front() == '-'))
      return false;
  }
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size() &&
         std::isfinite(out);
}

bool is_header(const std::vector<std::string_view>& fields) {
  for (std::size_t i = 0; i < fields.size() && i < 3; ++i) {
    double ignored = 0;
    if (parse_number(fields[i], ignored))
      return false;
  }
  return true;
}

// The row of a trace line's `fields`, checked.
trace_row parse_trace_row(const line_reader& in,
                          const std::vector<std::string_view>& fields,
                          bool has_censored) {
  static constexpr const char* names[] = {"iteration", "worker", "seconds"};
  if (fields.size() < 3)
    throw in.error(fmt::format("missing column '{}' (expected "
                               "iteration,worker,seconds)",
                               names[fields.size()]));
  trace_row row;
  if (!parse_unsigned(fields[0], row.iteration))
    throw in.error(fmt::format("bad iteration '{}' (expected a non-negative "
                               "integer)",
                               quoted_excerpt(fields[0])));
  if (!parse_unsigned(fields[1], row.worker))
    throw in.error(fmt::format("bad worker '{}' (expected a non-negative "
                               "integer)",
                               quoted_excerpt(fields[1])));
  if (row.worker > trace_max_worker)
    throw in.error(fmt::format("worker {} exceeds the limit of {} (see "
                               "docs/input-limits.md)",
                               row.worker, trace_max_worker));
  if (!parse_number(fields[2], row.seconds))
    throw in.error(fmt::format("bad seconds '{}' (expected a finite number)",
                               quoted_excerpt(fields[2])));
  if (row.seconds < 0)
    throw in.error(fmt::format("negative seconds {}", fields[2]));
  if (has_censored) {
    if (fields.size() < 4 || (fields[3] != "0" && fields[3] != "1"))
      throw in.error(
          fmt::format("bad censored flag '{}' (expected 0 or 1)",
                      fields.size() < 4 ? "" : quoted_excerpt(fields[3])));
    row.censored = fields[3] == "1";
  }
  return row;
}

} // namespace

std::unique_ptr<straggler_model>
make_straggler_model(const std::vector<straggler_spec>& rules,
                     std::size_t workers, std::uint64_t seed) {
  for (std::size_t i = 0; i < rules.size(); ++i)
    validate(i, rules[i], workers);
  constexpr std::size_t unassigned = static_cast<std::size_t>(-1);
  std::vector<std::size_t> rule_index(workers, unassigned);
  std::vector<std::size_t> position(workers, 0);
  std::vector<std::vector<std::size_t>> members(rules.size());
  for (std::size_t i = 0; i < rules.size(); ++i) {
    std::vector<std::size_t> candidates = rules[i].workers;
    if (candidates.empty())
      for (std::size_t w = 0; w < workers; ++w)
        candidates.push_back(w);
    for (std::size_t w : candidates) {
      if (rule_index[w] != unassigned)
        continue;
      rule_index[w] = i;
      position[w] = members[i].size();
      members[i].push_back(w);
    }
  }
  std::vector<std::unique_ptr<rule_model>> models;
  std::vector<const rule_model*> rule_of(workers, nullptr);
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (rules[i].model == "none")
      continue;
    models.push_back(make_rule(i, rules[i], members[i], workers, seed));
    for (std::size_t w : members[i])
      rule_of[w] = models.back().get();
  }
  return std::make_unique<combined_model>(std::move(models), std::move(rule_of),
                                          std::move(position));
}

std::vector<trace_row> read_trace(const std::string& path) {
  line_reader in(path, trace_max_line);
  std::vector<trace_row> rows;
  std::map<std::pair<std::uint64_t, std::size_t>, std::size_t> first_line;
  std::set<std::uint64_t> iterations;
  std::size_t workers = 0;
  std::string_view line;
  bool first_content = true;
  bool has_censored = false;
  while (in.next(line)) {
    std::string_view text = trim(line);
    if (text.empty())
      continue;
    std::vector<std::string_view> fields = split_fields(text);
    bool header = first_content && is_header(fields);
    first_content = false;
    if (header) {
      has_censored = fields.size() > 3 && trim(fields[3]) == "censored";
      continue;
    }
    trace_row row = parse_trace_row(in, fields, has_censored);
    auto [it, inserted] = first_line.emplace(
        std::make_pair(row.iteration, row.worker), in.line_number());
    if (!inserted)
      throw in.error(fmt::format("duplicate row for iteration {}, worker {} "
                                 "(first on line {})",
                                 row.iteration, row.worker, it->second));
    iterations.insert(row.iteration);
    workers = std::max(workers, row.worker + 1);
    if (iterations.size() * workers > trace_max_cells)
      throw in.error(fmt::format("{} iterations of {} workers are more than "
                                 "the limit of {} run-times (see "
                                 "docs/input-limits.md)",
                                 iterations.size(), workers, trace_max_cells));
    rows.push_back(row);
  }
  if (rows.empty())
    throw in.error_at(in.line_number() + 1, "no rows in trace");
  return rows;
}

} // namespace metronome::algorithms
