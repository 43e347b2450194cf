#include "launcher/experiment/results.hpp"

#include "algorithms/program.hpp"
#include "launcher/experiment/runner.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

namespace metronome::launcher::experiment {

namespace {

namespace fs = std::filesystem;
using actors::json;

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

double number(const json& record, const std::string& key) {
  auto it = record.find(key);
  return it != record.end() && it->is_number() ? it->get<double>() : nan;
}

double step_of(const json& record) {
  auto step = number(record, "iteration");
  return std::isnan(step) ? number(record, "round") : step;
}

std::vector<std::string> traced_metrics(const experiment_spec& spec) {
  std::vector<std::string> names;
  if (const auto* program = algorithms::find_program(spec.algorithm))
    names = program->metrics;
  names.push_back("cutoff");
  return names;
}

void read_records(const fs::path& path, const std::vector<std::string>& names,
                  std::map<std::string, metric_trace>& traces) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto record = actors::parse_record(line);
    if (!record)
      continue;
    double step = step_of(*record);
    double wall = number(*record, "wall_s");
    for (const auto& name : names) {
      double value = number(*record, name);
      if (std::isnan(value))
        continue;
      auto& trace = traces[name];
      trace.step.push_back(step);
      trace.wall.push_back(wall);
      trace.value.push_back(value);
    }
  }
}

// Evaluation records interleave with iteration records in time: merged by
// wall time, so a trace reads in the order the job measured it.
void sort_by_wall(metric_trace& trace) {
  std::vector<std::size_t> order(trace.wall.size());
  for (std::size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) {
    return trace.wall[a] < trace.wall[b];
  });
  metric_trace sorted;
  for (auto i : order) {
    sorted.step.push_back(trace.step[i]);
    sorted.wall.push_back(trace.wall[i]);
    sorted.value.push_back(trace.value[i]);
  }
  trace = std::move(sorted);
}

} // namespace

std::string target_id(const target& t) {
  return t.metric + (t.at_most ? "_le_" : "_ge_") + fmt_number(t.value);
}

std::string fmt_number(double v) {
  std::ostringstream out;
  out.precision(12);
  out << v;
  return out.str();
}

std::optional<reached_at> first_reached(const metric_trace& trace,
                                        const target& t, std::size_t window) {
  window = std::max<std::size_t>(1, std::min(window, trace.value.size()));
  double sum = 0;
  for (std::size_t i = 0; i < trace.value.size(); ++i) {
    sum += trace.value[i];
    if (i >= window)
      sum -= trace.value[i - window];
    if (i + 1 < window)
      continue;
    double mean = sum / static_cast<double>(window);
    if (t.at_most ? mean <= t.value : mean >= t.value)
      return reached_at{trace.wall[i], trace.step[i]};
  }
  return std::nullopt;
}

trial_result read_trial(const experiment_spec& spec, const trial& t) {
  trial_result r;
  r.source = &t;
  r.complete = trial_complete(t);
  if (!r.complete)
    return r;
  std::ifstream out(t.dir / "output.txt");
  std::stringstream text;
  text << out.rdbuf();
  if (auto line = actors::final_record(text.str()))
    r.final_line = *line;
  auto names = traced_metrics(spec);
  read_records(t.dir / "iterations.jsonl", names, r.traces);
  read_records(t.dir / "evaluations.jsonl", names, r.traces);
  for (auto& [name, trace] : r.traces)
    sort_by_wall(trace);
  for (const auto& target : spec.targets) {
    auto it = r.traces.find(target.metric);
    r.reached.push_back(it == r.traces.end()
                            ? std::nullopt
                            : first_reached(it->second, target, target.window));
  }
  std::ifstream summary(t.dir / "summary.json");
  std::string line;
  std::getline(summary, line);
  if (auto s = actors::parse_record(line); s && s->contains("staleness"))
    if (auto h = (*s)["staleness"].find("histogram");
        h != (*s)["staleness"].end() && h->is_array())
      for (const auto& count : *h)
        r.staleness_histogram.push_back(count.is_number() ? count.get<double>()
                                                          : 0);
  return r;
}

std::vector<std::pair<std::string, double>>
trial_numbers(const experiment_spec& spec, const trial_result& r) {
  std::vector<std::pair<std::string, double>> row;
  const auto& line = r.final_line;
  row.emplace_back("wall_s", number(line, "wall_s"));
  double steps = nan;
  for (const auto& [name, trace] : r.traces)
    if (!trace.step.empty())
      steps = std::isnan(steps) ? trace.step.back()
                                : std::max(steps, trace.step.back());
  row.emplace_back("steps", steps);
  for (const auto& name : traced_metrics(spec)) {
    auto it = r.traces.find(name);
    if (name == "cutoff" && it == r.traces.end())
      continue;
    row.emplace_back("final_" + name,
                     it == r.traces.end() ? nan : it->second.value.back());
  }
  std::string rate = "throughput_per_s";
  double rate_value = nan;
  for (auto it = line.begin(); it != line.end(); ++it)
    if (it.key().size() > 6 &&
        it.key().compare(it.key().size() - 6, 6, "_per_s") == 0 &&
        it->is_number()) {
      rate = it.key();
      rate_value = it->get<double>();
      break;
    }
  row.emplace_back(rate, rate_value);
  row.emplace_back("staleness_mean", number(line, "staleness_mean"));
  row.emplace_back("staleness_max", number(line, "staleness_max"));
  row.emplace_back("blocked_s", number(line, "blocked_s"));
  // The rest of the final line's numbers (cutoff totals, counts).
  for (auto it = line.begin(); it != line.end(); ++it) {
    bool listed = std::any_of(row.begin(), row.end(), [&](const auto& r) {
      return r.first == it.key() || r.first == "final_" + it.key();
    });
    if (it->is_number() && !listed && it.key().rfind("final_", 0) != 0)
      row.emplace_back(it.key(), it->get<double>());
  }
  for (std::size_t i = 0; i < spec.targets.size(); ++i) {
    auto id = target_id(spec.targets[i]);
    bool hit = i < r.reached.size() && r.reached[i].has_value();
    row.emplace_back(id + "_wall_s", hit ? r.reached[i]->wall_s : nan);
    row.emplace_back(id + "_step", hit ? r.reached[i]->step : nan);
  }
  return row;
}

} // namespace metronome::launcher::experiment
