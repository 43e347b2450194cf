#include "launcher/experiment/summary.hpp"

#include "actors/core/job_records.hpp"
#include "algorithms/stats/interval.hpp"
#include "launcher/experiment/plot.hpp"
#include "launcher/experiment/report.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <cmath>
#include <ctime>
#include <limits>
#include <set>

namespace metronome::launcher::experiment {

namespace {

namespace fs = std::filesystem;
using actors::json;
constexpr double nan = std::numeric_limits<double>::quiet_NaN();

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos)
    return text;
  std::string quoted = "\"";
  for (char c : text)
    quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string csv_number(double v) {
  return std::isfinite(v) ? fmt_number(v) : std::string();
}

std::string csv_line(const std::vector<std::string>& fields) {
  std::string line;
  for (const auto& f : fields)
    line += (line.empty() ? "" : ",") + csv_field(f);
  return line + "\n";
}

// Every numeric column, in the order the trials first list them.
std::vector<std::string> number_columns(const experiment_spec& spec,
                                        const std::vector<trial_result>& all) {
  std::vector<std::string> columns;
  for (const auto& r : all) {
    if (!r.complete)
      continue;
    for (const auto& [name, value] : trial_numbers(spec, r))
      if (std::find(columns.begin(), columns.end(), name) == columns.end())
        columns.push_back(name);
  }
  return columns;
}

double value_of(const std::vector<std::pair<std::string, double>>& row,
                const std::string& column) {
  for (const auto& [name, value] : row)
    if (name == column)
      return value;
  return nan;
}

std::vector<std::string> axis_names(const experiment_spec& spec) {
  std::vector<std::string> names;
  for (const auto& a : spec.axes)
    names.push_back(a.name);
  return names;
}

std::string trials_csv(const experiment_spec& spec,
                       const std::vector<trial_result>& all,
                       const std::vector<std::string>& columns) {
  std::vector<std::string> header = {"trial", "cell"};
  for (const auto& a : axis_names(spec))
    header.push_back(a);
  header.insert(header.end(), {"seed", "status"});
  header.insert(header.end(), columns.begin(), columns.end());
  std::string text = csv_line(header);
  for (const auto& r : all) {
    const auto& t = *r.source;
    const auto& c = spec.cells[t.cell];
    std::vector<std::string> row = {t.hash, c.label};
    row.insert(row.end(), c.values.begin(), c.values.end());
    row.push_back(std::to_string(t.seed));
    row.push_back(r.complete ? "complete" : "missing");
    auto numbers = r.complete ? trial_numbers(spec, r)
                              : std::vector<std::pair<std::string, double>>{};
    for (const auto& column : columns)
      row.push_back(csv_number(value_of(numbers, column)));
    text += csv_line(row);
  }
  return text;
}

// The target a column times ("loss_le_0.5" for "loss_le_0.5_wall_s"), or
// "" when it is no target's wall-time column.
std::string timed_target(const experiment_spec& spec,
                         const std::string& column) {
  for (const auto& t : spec.targets)
    if (column == target_id(t) + "_wall_s")
      return target_id(t);
  return {};
}

bool is_rate(const std::string& column) {
  return column.size() > 6 &&
         column.compare(column.size() - 6, 6, "_per_s") == 0;
}

// The values of `column` over the complete trials of cell `c`, and how
// many of them have one.
std::vector<double> cell_values(const experiment_spec& spec,
                                const std::vector<trial_result>& all,
                                std::size_t c, const std::string& column) {
  std::vector<double> values;
  for (const auto& r : all)
    if (r.complete && r.source->cell == c) {
      double v = value_of(trial_numbers(spec, r), column);
      if (std::isfinite(v))
        values.push_back(v);
    }
  return values;
}

// Each complete trial's `column` divided by its workers.
std::vector<double> per_worker(const experiment_spec& spec,
                               const std::vector<trial_result>& all,
                               std::size_t c, const std::string& column) {
  std::vector<double> values;
  for (const auto& r : all)
    if (r.complete && r.source->cell == c) {
      auto row = trial_numbers(spec, r);
      double v =
          value_of(row, column) / std::max(1.0, value_of(row, "workers"));
      if (std::isfinite(v))
        values.push_back(v);
    }
  return values;
}

std::size_t complete_in(const std::vector<trial_result>& all, std::size_t c) {
  return static_cast<std::size_t>(
      std::count_if(all.begin(), all.end(), [&](const trial_result& r) {
        return r.complete && r.source->cell == c;
      }));
}

std::string summary_csv(const experiment_spec& spec,
                        const std::vector<trial_result>& all,
                        const std::vector<std::string>& columns) {
  std::vector<std::string> header = {"cell"};
  for (const auto& a : axis_names(spec))
    header.push_back(a);
  header.insert(header.end(), {"trials", "complete"});
  for (const auto& column : columns) {
    if (auto target = timed_target(spec, column); !target.empty())
      header.push_back(target + "_reached");
    for (const char* part : {"_mean", "_low", "_high"})
      header.push_back(column + part);
  }
  std::string text = csv_line(header);
  for (std::size_t c = 0; c < spec.cells.size(); ++c) {
    std::vector<std::string> row = {spec.cells[c].label};
    row.insert(row.end(), spec.cells[c].values.begin(),
               spec.cells[c].values.end());
    row.push_back(std::to_string(spec.seeds.size()));
    auto complete = complete_in(all, c);
    row.push_back(std::to_string(complete));
    for (const auto& column : columns) {
      auto values = cell_values(spec, all, c, column);
      if (!timed_target(spec, column).empty())
        row.push_back(std::to_string(values.size()) + "/" +
                      std::to_string(complete));
      auto ci = algorithms::t_interval(values);
      for (double v : {ci.mean, ci.low, ci.high})
        row.push_back(csv_number(v));
    }
    text += csv_line(row);
  }
  return text;
}

std::string with_interval(const std::vector<double>& values) {
  auto ci = algorithms::t_interval(values);
  if (ci.n == 0)
    return "-";
  if (ci.n < 2)
    return fmt::format("{:.4g}", ci.mean);
  return fmt::format("{:.4g} ± {:.2g}", ci.mean, (ci.high - ci.low) / 2);
}

text_table terminal_table(const experiment_spec& spec,
                          const std::vector<trial_result>& all,
                          const std::vector<std::string>& columns) {
  text_table table;
  table.header = {"cell", "done"};
  std::vector<std::string> shown;
  for (const auto& column : columns)
    if (column.rfind("final_", 0) == 0 || column == "wall_s" ||
        is_rate(column) || column == "staleness_mean" ||
        column == "mean_cutoff" || !timed_target(spec, column).empty())
      shown.push_back(column);
  table.header.insert(table.header.end(), shown.begin(), shown.end());
  for (std::size_t c = 0; c < spec.cells.size(); ++c) {
    std::vector<std::string> row = {spec.cells[c].label,
                                    std::to_string(complete_in(all, c)) + "/" +
                                        std::to_string(spec.seeds.size())};
    for (const auto& column : shown) {
      auto values = cell_values(spec, all, c, column);
      auto text = with_interval(values);
      if (!timed_target(spec, column).empty() &&
          values.size() < complete_in(all, c))
        text += fmt::format(" ({}/{})", values.size(), complete_in(all, c));
      row.push_back(text);
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

// The mean over seeds with its interval at each record index, placed at
// the seeds' mean step or mean wall time there: seeds of one cell record
// the same steps, so the k-th records belong together.
series band(const std::string& label,
            const std::vector<const metric_trace*>& seeds, bool wall_axis) {
  series s;
  s.label = label;
  std::size_t points = seeds.empty() ? 0 : seeds.front()->value.size();
  for (const auto* t : seeds)
    points = std::min(points, t->value.size());
  for (std::size_t k = 0; k < points; ++k) {
    std::vector<double> at;
    double x = 0;
    for (const auto* t : seeds) {
      at.push_back(t->value[k]);
      x += (wall_axis ? t->wall : t->step)[k];
    }
    auto ci = algorithms::t_interval(at);
    s.x.push_back(x / static_cast<double>(seeds.size()));
    s.mean.push_back(ci.mean);
    s.low.push_back(ci.low);
    s.high.push_back(ci.high);
  }
  if (seeds.size() < 2) {
    s.low.clear();
    s.high.clear();
  }
  return s;
}

std::vector<const metric_trace*> traces_of(const std::vector<trial_result>& all,
                                           std::size_t c,
                                           const std::string& metric) {
  std::vector<const metric_trace*> out;
  for (const auto& r : all)
    if (r.complete && r.source->cell == c)
      if (auto it = r.traces.find(metric);
          it != r.traces.end() && !it->second.value.empty())
        out.push_back(&it->second);
  return out;
}

struct named_figure {
  std::string file;
  std::string caption;
  std::string svg;
};

void metric_figures(const experiment_spec& spec,
                    const std::vector<trial_result>& all,
                    std::vector<named_figure>& out) {
  std::set<std::string> metrics;
  for (const auto& r : all)
    for (const auto& [name, trace] : r.traces)
      metrics.insert(name);
  for (const auto& metric : metrics) {
    for (bool wall : {true, false}) {
      line_figure f;
      f.title = metric + (wall ? " against wall time" : " against step");
      f.x_label = wall ? "wall time (s)" : "step";
      f.y_label = metric;
      f.log_y = metric == "gap" || metric == "objective";
      for (std::size_t c = 0; c < spec.cells.size(); ++c)
        f.lines.push_back(
            band(spec.cells[c].label, traces_of(all, c, metric), wall));
      out.push_back({metric + (wall ? "-wall" : "-step"),
                     f.title + " (mean over seeds, 95% band)", svg(f)});
    }
  }
}

void bar_figures(const experiment_spec& spec,
                 const std::vector<trial_result>& all,
                 const std::vector<std::string>& columns,
                 std::vector<named_figure>& out) {
  for (const auto& column : columns) {
    auto target = timed_target(spec, column);
    bool rate = is_rate(column);
    if (target.empty() && !rate)
      continue;
    bar_figure f;
    f.title = !target.empty() ? "time to " + target : column + " per worker";
    f.y_label = !target.empty() ? "wall time (s)" : column + " / worker";
    for (std::size_t c = 0; c < spec.cells.size(); ++c) {
      auto values = rate ? per_worker(spec, all, c, column)
                         : cell_values(spec, all, c, column);
      auto ci = algorithms::t_interval(values);
      bar b;
      b.label = spec.cells[c].label;
      b.value = ci.mean;
      b.low = std::isfinite(ci.low) ? ci.low : ci.mean;
      b.high = std::isfinite(ci.high) ? ci.high : ci.mean;
      if (!target.empty() && values.size() < complete_in(all, c) &&
          !values.empty())
        b.label += fmt::format(" ({}/{})", values.size(), complete_in(all, c));
      f.bars.push_back(b);
    }
    out.push_back(
        {!target.empty() ? "time-to-" + target : column + "-per-worker",
         f.title + " (mean over seeds, 95% interval)", svg(f)});
  }
}

void staleness_figure(const experiment_spec& spec,
                      const std::vector<trial_result>& all,
                      std::vector<named_figure>& out) {
  histogram_figure f;
  f.title = "staleness of reads";
  f.x_label = "staleness (clocks)";
  f.y_label = "share of reads";
  bool any = false;
  for (std::size_t c = 0; c < spec.cells.size(); ++c) {
    std::vector<double> counts;
    for (const auto& r : all)
      if (r.complete && r.source->cell == c) {
        counts.resize(std::max(counts.size(), r.staleness_histogram.size()));
        for (std::size_t i = 0; i < r.staleness_histogram.size(); ++i)
          counts[i] += r.staleness_histogram[i];
      }
    double total = 0;
    for (double v : counts)
      total += v;
    while (!counts.empty() && counts.back() == 0)
      counts.pop_back();
    // A cell without reads keeps its place, so colours match other figures.
    histogram h;
    h.label = spec.cells[c].label;
    any = any || total > 0;
    for (std::size_t i = 0; i <= counts.size(); ++i)
      h.edges.push_back(static_cast<double>(i));
    for (double v : counts)
      h.counts.push_back(v / total);
    f.series.push_back(std::move(h));
  }
  if (any)
    out.push_back({"staleness", "staleness of every read, all seeds", svg(f)});
}

std::string write_figures(const experiment_spec& spec,
                          const std::vector<named_figure>& figures,
                          std::vector<std::string>& notes) {
  auto dir = spec.output / "figures";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    throw std::runtime_error("cannot create " + dir.string() + ": " +
                             ec.message());
  std::string png_note;
  for (const auto& f : figures) {
    auto path = (dir / (f.file + ".svg")).string();
    if (auto error = actors::write_file_atomically(path, f.svg); !error.empty())
      throw std::runtime_error(error);
    std::string note;
    if (png_from_svg(path, note).empty() && png_note.empty())
      png_note = note;
  }
  if (!png_note.empty())
    notes.push_back(png_note);
  return dir.string();
}

std::string command_output(const std::string& command) {
  std::string out;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof(buf), pipe))
      out += buf;
    ::pclose(pipe);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
    out.pop_back();
  return out;
}

json provenance_json(const experiment_spec& spec,
                     const std::vector<trial_result>& all,
                     const provenance& run) {
  json trials = json::array();
  for (const auto& r : all)
    trials.push_back({{"trial", r.source->hash},
                      {"cell", spec.cells[r.source->cell].label},
                      {"seed", r.source->seed},
                      {"complete", r.complete},
                      {"dir", r.source->dir.string()}});
  return {{"experiment", spec.name},    {"file", spec.file},
          {"base", spec.base.string()}, {"commit", run.commit},
          {"binary", run.binary},       {"host", run.host},
          {"date", run.date},           {"trials", trials}};
}

void write(const fs::path& path, const std::string& text) {
  if (auto error = actors::write_file_atomically(path.string(), text);
      !error.empty())
    throw std::runtime_error(error);
}

} // namespace

provenance this_run(const std::string& binary_path,
                    const std::string& fingerprint) {
  provenance p;
  auto dir = fs::path(binary_path).parent_path().string();
  auto quoted = "'" + dir + "'";
  p.commit = command_output("git -C " + quoted + " rev-parse HEAD 2>/dev/null");
  if (p.commit.empty())
    p.commit = "unknown";
  else if (!command_output("git -C " + quoted +
                           " status --porcelain --untracked-files=no "
                           "2>/dev/null")
                .empty())
    p.commit += " (with uncommitted changes)";
  p.binary = fingerprint;
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  p.host = host;
  std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  p.date = date;
  return p;
}

std::string write_summary(const experiment_spec& spec,
                          const std::vector<trial_result>& results,
                          const provenance& run) {
  std::error_code ec;
  fs::create_directories(spec.output, ec);
  if (ec)
    throw std::runtime_error("cannot create " + spec.output.string() + ": " +
                             ec.message());
  auto columns = number_columns(spec, results);
  write(spec.output / "trials.csv", trials_csv(spec, results, columns));
  write(spec.output / "summary.csv", summary_csv(spec, results, columns));
  write(spec.output / "experiment.json",
        provenance_json(spec, results, run).dump(2) + "\n");
  std::vector<named_figure> figures;
  metric_figures(spec, results, figures);
  bar_figures(spec, results, columns, figures);
  staleness_figure(spec, results, figures);
  report page;
  page.title = "experiment " + spec.name;
  std::size_t complete = 0;
  for (const auto& r : results)
    complete += r.complete;
  page.facts = {
      {"experiment file", spec.file},
      {"base topology", spec.base.string()},
      {"commit", run.commit},
      {"binary", run.binary},
      {"host", run.host},
      {"date", run.date},
      {"trials", fmt::format("{} of {} complete", complete, results.size())}};
  write_figures(spec, figures, page.notes);
  auto table = terminal_table(spec, results, columns);
  page.summary = table;
  for (auto& f : figures)
    page.figures.push_back({f.caption, std::move(f.svg)});
  write(spec.output / "index.html", html(page));
  return plain_text(table);
}

} // namespace metronome::launcher::experiment
