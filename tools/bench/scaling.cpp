#include "tools/bench/scaling.hpp"
#include "tools/bench/sequential.hpp"

#include "actors/core/job_records.hpp"
#include "actors/roles.hpp"
#include "algorithms/sgd/models.hpp"
#include "algorithms/sgd/sgd.hpp"
#include "launcher/config.hpp"
#include "launcher/experiment/experiment_file.hpp"
#include "launcher/experiment/runner.hpp"

#include <fmt/format.h>

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace metronome::tools {

namespace {

namespace fs = std::filesystem;
namespace ex = launcher::experiment;
using actors::json;
using clock_type = std::chrono::steady_clock;

struct target_spec {
  std::string metric = "test_accuracy";
  bool at_most = false; ///< <= (else >=)
  double value = 0;
};

// What every run of the job shares.
struct job_shape {
  std::size_t config_workers = 0;
  std::size_t global_batch = 0; ///< samples per step, over all workers
  std::uint64_t iterations = 0;
  std::size_t parameters = 0;
  bool counts_samples = true; ///< false under a cutoff, which drops some
};

// One run of the job: the sequential one (workers 0) or a trial.
struct run_row {
  std::size_t workers = 0;
  std::size_t batch_size = 0; ///< per worker
  std::uint64_t iterations = 0;
  double wall_s = 0;
  /// {iteration, wall_s, test_loss, test_accuracy}, in iteration order.
  json evaluations = json::array();
  double final_accuracy = 0;
  std::optional<double> blocked_fraction;
  std::optional<double> bytes_per_iteration;
  double model_bytes_per_iteration = 0;
  /// CPU seconds: the sequential thread's, or the trial's with all its
  /// processes.
  std::optional<double> cpu_s;
  std::string dir;
};

// The cores this process may run on.
std::size_t usable_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    return static_cast<std::size_t>(CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::optional<target_spec> parse_target(const std::string& text) {
  static const std::regex form(
      R"(^\s*(test_accuracy|test_loss)\s*(<=|>=)\s*(\S+)\s*$)");
  std::smatch m;
  if (!std::regex_match(text, m, form))
    return std::nullopt;
  target_spec t{m[1], m[2] == "<=", 0};
  auto number = m[3].str();
  char* end = nullptr;
  t.value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || !std::isfinite(t.value))
    return std::nullopt;
  return t;
}

std::string target_text(const target_spec& t) {
  return fmt::format("{} {} {:.6g}", t.metric,
                     t.at_most ? "<=" : ">=", t.value);
}

// Why the bench cannot run the job of `topo` with `o`, or "".
std::string refusal(const actors::topology& topo,
                    const scaling_bench_options& o) {
  static const std::set<std::string> sgd = {"softmax", "mlp", "logreg"};
  const auto& job = topo.job;
  if (sgd.count(job.algorithm) == 0)
    return fmt::format("{}: bench scaling needs a data-parallel SGD job "
                       "(algorithm softmax, mlp or logreg), not algorithm "
                       "'{}'",
                       o.config, job.algorithm);
  auto workers = topo.count("worker");
  auto global = workers * job.batch_size;
  std::set<std::size_t> seen;
  for (auto n : o.workers) {
    if (!seen.insert(n).second)
      return fmt::format("--workers lists {} twice", n);
    if (global % n != 0)
      return fmt::format("{}: {} workers do not divide the global batch of "
                         "{} samples ({} workers x batch_size {}); give "
                         "worker counts that divide {}",
                         o.config, n, global, workers, job.batch_size, global);
  }
  if (!o.target.empty() && !parse_target(o.target))
    return fmt::format("--target must read 'test_accuracy>=V' or "
                       "'test_loss<=V' (V a number), not '{}'",
                       o.target);
  return {};
}

job_shape shape_of(const actors::topology& topo) {
  auto train = actors::job_data(topo.job.data, false);
  auto model = actors::job_model(topo.job, *train);
  job_shape s;
  s.config_workers = topo.count("worker");
  s.global_batch = s.config_workers * topo.job.batch_size;
  s.iterations = actors::schedule_of(topo, train->num_samples()).iterations;
  s.parameters = model->num_parameters();
  s.counts_samples = topo.job.consistency != "cutoff";
  return s;
}

// `workers` workers pushing and pulling every parameter as float32,
// payload only: a model of the traffic, not a measurement.
double model_bytes(const job_shape& shape, std::size_t workers) {
  return static_cast<double>(workers * 2 * sizeof(float) * shape.parameters);
}

// The job of `o.config` with `workers` workers, each with its share of the
// global batch, for the sequential run's iterations; checked by the
// topology loader (which throws launcher::config_error).
YAML::Node trial_topology(const scaling_bench_options& o,
                          const job_shape& shape, std::size_t workers) {
  auto tree = YAML::LoadFile(o.config);
  std::vector<ex::setting> settings = {
      {"job.batch_size", YAML::Node(shape.global_batch / workers)},
      {"job.iterations", YAML::Node(shape.iterations)},
      {"cluster.workers", YAML::Node(workers)}};
  if (auto why = ex::apply(tree, settings); !why.empty())
    throw launcher::config_error({o.config + ": " + why});
  launcher::load_topology_tree(tree, o.config);
  return tree;
}

// One trial per worker count, run one at a time in OUT/wN.
ex::experiment_spec trials_spec(const scaling_bench_options& o,
                                const job_shape& shape, std::uint64_t seed) {
  ex::experiment_spec spec;
  spec.file = o.config;
  spec.name = "bench-scaling";
  spec.mode = o.mode == "launch" ? ex::trial_mode::launch : ex::trial_mode::run;
  spec.output = fs::absolute(o.out).lexically_normal();
  spec.seeds = {seed};
  for (auto n : o.workers) {
    ex::cell c;
    c.label = fmt::format("workers={}", n);
    spec.cells.push_back(c);
    ex::trial t;
    t.cell = spec.cells.size() - 1;
    t.seed = seed;
    t.topology = trial_topology(o, shape, n);
    t.hash = fmt::format("bench-scaling-w{}", n);
    t.dir = spec.output / fmt::format("w{}", n);
    spec.trials.push_back(std::move(t));
  }
  return spec;
}

// The job's arithmetic as sequential SGD in one thread, timed as `bench
// sequential` times it; evaluated after the iterations the job evaluates,
// with the clock stopped while it evaluates.
run_row sequential_row(const actors::topology& topo, const job_shape& shape) {
  const auto& job = topo.job;
  auto train = actors::job_data(job.data, false);
  auto test = actors::job_data(job.data, true);
  auto model = actors::job_model(job, *train);
  auto schedule = actors::schedule_of(topo, train->num_samples());
  auto o = sequential_options(topo, train->num_samples());
  o.workers = shape.config_workers;
  o.iterations = shape.iterations;
  run_row r;
  r.batch_size = shape.global_batch;
  r.iterations = shape.iterations;
  double spent = 0, cpu = 0;
  auto since = clock_type::now();
  auto cpu_since = thread_cpu_seconds();
  o.after_iteration = [&](std::uint64_t done, const std::vector<float>& w) {
    if (!schedule.evaluated_at(done))
      return;
    spent += seconds_since(since);
    cpu += thread_cpu_seconds() - cpu_since;
    auto e = model->evaluate(w.data(), *test);
    r.evaluations.push_back({{"iteration", done},
                             {"wall_s", spent},
                             {"test_loss", e.loss},
                             {"test_accuracy", e.accuracy}});
    r.final_accuracy = e.accuracy;
    since = clock_type::now();
    cpu_since = thread_cpu_seconds();
  };
  algorithms::sequential_sgd(*model, *train, o);
  r.wall_s = spent + seconds_since(since);
  r.cpu_s = cpu + thread_cpu_seconds() - cpu_since;
  return r;
}

// What a trial's iterations.jsonl says.
struct iteration_log {
  std::uint64_t records = 0;
  /// Bytes in and out of the worker nodes per iteration, all of them
  /// together, from the traffic counters they report in heartbeats.
  std::optional<double> bytes_per_iteration;
};

// Each worker node's traffic counters change when its heartbeat arrives:
// its rate is the change from the first report to the last over the
// iterations between them.
iteration_log read_iteration_log(const fs::path& path,
                                 const std::vector<std::string>& nodes) {
  struct reports {
    double first_iteration = -1, first_bytes = 0;
    double last_iteration = -1, last_bytes = 0, now = -1;
  };
  std::map<std::string, reports> by_node;
  iteration_log log;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto record = actors::parse_record(line);
    if (!record)
      continue;
    ++log.records;
    auto iteration = record->value("iteration", 0.0);
    auto all = record->value("nodes", json::object());
    for (const auto& name : nodes) {
      auto found = all.find(name);
      if (found == all.end() || !found->is_object())
        continue;
      double bytes =
          found->value("bytes_in", 0.0) + found->value("bytes_out", 0.0);
      auto& r = by_node[name];
      if (bytes == r.now)
        continue;
      r.now = bytes;
      bool first = r.first_iteration < 0;
      (first ? r.first_iteration : r.last_iteration) = iteration;
      (first ? r.first_bytes : r.last_bytes) = bytes;
    }
  }
  double total = 0;
  for (const auto& name : nodes) {
    const auto& r = by_node[name];
    if (r.last_iteration <= r.first_iteration)
      return log;
    total +=
        (r.last_bytes - r.first_bytes) / (r.last_iteration - r.first_iteration);
  }
  log.bytes_per_iteration = total;
  return log;
}

// The nodes that hold workers and no server, and their workers: what
// crosses between processes is their traffic (a worker beside the servers
// reaches them without the network).
struct worker_nodes {
  std::vector<std::string> names;
  std::size_t workers = 0;
};

worker_nodes worker_nodes_apart(const YAML::Node& topology) {
  worker_nodes out;
  for (const auto& node : topology["cluster"]["nodes"]) {
    std::size_t workers = 0, servers = 0;
    for (const auto& role : node["roles"]) {
      auto name = role.as<std::string>("");
      workers += name.rfind("worker/", 0) == 0;
      servers += name.rfind("server/", 0) == 0;
    }
    if (workers == 0 || servers > 0)
      continue;
    out.names.push_back(node["name"].as<std::string>());
    out.workers += workers;
  }
  return out;
}

json read_records(const fs::path& path) {
  json out = json::array();
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (auto record = actors::parse_record(line))
      out.push_back(*record);
  return out;
}

// Mean over the workers of their time blocked on reads over the job's wall.
std::optional<double> blocked_fraction(const json& summary, double wall) {
  auto workers = summary.find("workers");
  if (workers == summary.end() || !workers->is_object() || workers->empty() ||
      wall <= 0)
    return std::nullopt;
  double sum = 0;
  for (const auto& [name, w] : workers->items()) {
    auto blocked = w.find("blocked_s");
    if (blocked == w.end() || !blocked->is_number())
      return std::nullopt;
    sum += blocked->get<double>();
  }
  return sum / static_cast<double>(workers->size()) / wall;
}

// Throws unless the trial did the sequential run's work: its iterations,
// each recorded, and (unless a cutoff dropped gradients) every sample.
void check_work(const json& final_line, const iteration_log& log,
                const job_shape& shape) {
  auto iterations = final_line.value("iterations", std::uint64_t{0});
  if (iterations != shape.iterations || log.records != shape.iterations)
    throw std::runtime_error(fmt::format(
        "it ran {} iterations ({} recorded in iterations.jsonl), the "
        "sequential run {}",
        iterations, log.records, shape.iterations));
  auto samples = final_line.value("samples", std::uint64_t{0});
  auto expected = shape.iterations * shape.global_batch;
  if (shape.counts_samples && samples != expected)
    throw std::runtime_error(fmt::format(
        "it used {} samples, the sequential run {}", samples, expected));
}

// Why trial `t` did not complete, from its trial.json.
std::string failure_of(const ex::trial& t) {
  auto record = actors::parse_record(read_text(t.dir / "trial.json"));
  if (!record)
    return "it did not start";
  return "it failed (" + record->value("reason", std::string("?")) + ")";
}

// The CPU seconds of trial `t` and all its processes, from its trial.json.
std::optional<double> trial_cpu(const ex::trial& t) {
  auto record = actors::parse_record(read_text(t.dir / "trial.json"));
  if (!record)
    return std::nullopt;
  auto cpu = record->find("cpu_s");
  if (cpu == record->end() || !cpu->is_number())
    return std::nullopt;
  return cpu->get<double>();
}

// The row of trial `t` from its records; throws std::runtime_error saying
// what is missing or wrong.
run_row trial_row(const ex::trial& t, std::size_t workers,
                  const job_shape& shape) {
  if (!ex::trial_complete(t))
    throw std::runtime_error(failure_of(t));
  auto final_line = actors::final_record(read_text(t.dir / "output.txt"));
  auto summary = actors::parse_record(read_text(t.dir / "summary.json"));
  if (!final_line || !summary)
    throw std::runtime_error("it left no final JSON line or no summary.json");
  auto apart = worker_nodes_apart(t.topology);
  auto log = read_iteration_log(t.dir / "iterations.jsonl", apart.names);
  check_work(*final_line, log, shape);
  run_row r;
  r.workers = workers;
  r.batch_size = shape.global_batch / workers;
  r.iterations = shape.iterations;
  r.wall_s = final_line->value("wall_s", 0.0);
  r.evaluations = read_records(t.dir / "evaluations.jsonl");
  r.final_accuracy = final_line->value("final_test_accuracy", 0.0);
  r.blocked_fraction = blocked_fraction(*summary, r.wall_s);
  r.bytes_per_iteration = log.bytes_per_iteration;
  r.model_bytes_per_iteration = model_bytes(shape, apart.workers);
  r.cpu_s = trial_cpu(t);
  r.dir = t.dir.string();
  return r;
}

std::optional<double> time_to(const json& evaluations, const target_spec& t) {
  for (const auto& e : evaluations) {
    auto v = e.find(t.metric);
    if (v == e.end() || !v->is_number())
      continue;
    double x = v->get<double>();
    if (t.at_most ? x <= t.value : x >= t.value)
      return e.value("wall_s", 0.0);
  }
  return std::nullopt;
}

json number_or_null(const std::optional<double>& v) {
  return v ? json(*v) : json();
}

// The sequential wall over the least wall at which `r`'s CPU time fits on
// `cores` cores: what `r` would reach keeping every core busy.
std::optional<double> cpu_bound_speedup(const run_row& r, const run_row& seq,
                                        std::size_t cores) {
  if (r.workers == 0 || !r.cpu_s || *r.cpu_s <= 0)
    return std::nullopt;
  return seq.wall_s * static_cast<double>(cores) / *r.cpu_s;
}

json row_json(const run_row& r, const run_row& seq, const target_spec& t,
              std::size_t cores) {
  auto reached = time_to(r.evaluations, t);
  auto seq_reached = time_to(seq.evaluations, t);
  return {
      {"workers", r.workers},
      {"batch_size", r.batch_size},
      {"iterations", r.iterations},
      {"wall_s", r.wall_s},
      {"time_to_target_s", number_or_null(reached)},
      {"speedup", seq.wall_s / r.wall_s},
      {"target_speedup",
       reached && seq_reached ? json(*seq_reached / *reached) : json()},
      {"blocked_fraction", number_or_null(r.blocked_fraction)},
      {"bytes_per_iteration", number_or_null(r.bytes_per_iteration)},
      {"model_bytes_per_iteration", r.model_bytes_per_iteration},
      {"cpu_s", number_or_null(r.cpu_s)},
      {"cpu_bound_speedup", number_or_null(cpu_bound_speedup(r, seq, cores))},
      {"final_test_accuracy", r.final_accuracy},
      {"dir", r.dir.empty() ? json() : json(r.dir)}};
}

json report_json(const scaling_bench_options& o, const job_shape& shape,
                 const target_spec& t, const std::vector<run_row>& rows) {
  json out = {
      {"config", o.config},
      {"mode", o.mode},
      {"target",
       {{"metric", t.metric},
        {"op", t.at_most ? "<=" : ">="},
        {"value", t.value},
        {"default", o.target.empty()}}},
      {"global_batch", shape.global_batch},
      {"iterations", shape.iterations},
      {"parameters", shape.parameters},
      {"bytes_per_iteration",
       "measured: bytes in and out of the nodes that hold workers and no "
       "server, per iteration, from their transport counters"},
      {"model_bytes_per_iteration",
       "a model: every worker on those nodes pushes and pulls every "
       "parameter as float32 (payload only)"},
      {"cores", usable_cores()},
      {"cpu_bound_speedup",
       "the sequential wall x cores / the row's CPU seconds: the speedup "
       "the row would have if its processes kept every core busy"},
      {"rows", json::array()}};
  for (const auto& r : rows)
    out["rows"].push_back(row_json(r, rows.front(), t, usable_cores()));
  return out;
}

std::string cell(const json& v, const char* format, double scale = 1) {
  if (!v.is_number())
    return "-";
  return fmt::format(fmt::runtime(format), v.get<double>() * scale);
}

std::string bytes_cell(const json& v) {
  if (!v.is_number())
    return "-";
  double b = v.get<double>();
  if (b == 0)
    return "0";
  return b < 1e6 ? fmt::format("{:.1f} kB", b / 1e3)
                 : fmt::format("{:.2f} MB", b / 1e6);
}

void print_table(const json& report) {
  fmt::print("bench scaling {} (mode {}): global batch {}, {} iterations, "
             "target {} {} {:.6g}\n",
             report["config"].get<std::string>(),
             report["mode"].get<std::string>(), report["global_batch"].dump(),
             report["iterations"].dump(),
             report["target"]["metric"].get<std::string>(),
             report["target"]["op"].get<std::string>(),
             report["target"]["value"].get<double>());
  const char* row_format = "{:>7} {:>6} {:>8} {:>11} {:>8} {:>10} {:>8} "
                           "{:>11} {:>11} {:>7} {:>9} {:>9}\n";
  fmt::print(fmt::runtime(row_format), "workers", "batch", "wall_s",
             "to_target_s", "speedup", "tt_speedup", "blocked", "bytes/it",
             "model b/it", "cpu_s", "cpu_bound", "accuracy");
  for (const auto& r : report["rows"])
    fmt::print(
        fmt::runtime(row_format), r["workers"].dump(), r["batch_size"].dump(),
        cell(r["wall_s"], "{:.2f}"), cell(r["time_to_target_s"], "{:.2f}"),
        cell(r["speedup"], "{:.2f}x"), cell(r["target_speedup"], "{:.2f}x"),
        cell(r["blocked_fraction"], "{:.1f}%", 100),
        bytes_cell(r["bytes_per_iteration"]),
        bytes_cell(r["model_bytes_per_iteration"]), cell(r["cpu_s"], "{:.1f}"),
        cell(r["cpu_bound_speedup"], "{:.2f}x"),
        cell(r["final_test_accuracy"], "{:.4f}"));
  fmt::print(
      "workers 0: sequential SGD in one thread, its wall without its "
      "evaluations; speedup, tt_speedup: its wall, its time to the "
      "target, over the row's.\nbytes/it: the traffic of the nodes that "
      "hold workers and no server, per iteration, measured; model b/it: "
      "their workers pushing and pulling all {} parameters as float32, a "
      "model.\ncpu_s: CPU time of "
      "the sequential thread, or of all the trial's processes; "
      "cpu_bound: the speedup if they had kept all {} cores busy "
      "(sequential wall x cores / cpu_s).\n",
      report["parameters"].dump(), report["cores"].dump());
}

// The trials' rows after the sequential one; nullopt (having said which
// trial and where its log is) when one failed or did other work.
std::optional<std::vector<run_row>> trial_rows(const ex::experiment_spec& spec,
                                               const scaling_bench_options& o,
                                               const job_shape& shape) {
  std::vector<run_row> rows;
  for (std::size_t i = 0; i < spec.trials.size(); ++i) {
    const auto& t = spec.trials[i];
    try {
      rows.push_back(trial_row(t, o.workers[i], shape));
    } catch (const std::exception& e) {
      fmt::print(stderr,
                 "bench scaling: the trial of {} worker{}: {}; see {}\n",
                 o.workers[i], o.workers[i] == 1 ? "" : "s", e.what(),
                 (t.dir / "log.txt").string());
      return std::nullopt;
    }
  }
  return rows;
}

// The trials to run, checked before anything starts; nullopt (having
// printed every problem) when one is refused.
std::optional<ex::experiment_spec>
checked_trials(const scaling_bench_options& o, const job_shape& shape,
               std::uint64_t seed) {
  try {
    return trials_spec(o, shape, seed);
  } catch (const launcher::config_error& e) {
    for (const auto& p : e.problems())
      fmt::print(stderr, "{}\n", p);
  } catch (const YAML::Exception& e) {
    fmt::print(stderr, "{}: {}\n", o.config, e.what());
  }
  fmt::print(stderr,
             "bench scaling: a trial topology of {} is refused; "
             "nothing was started\n",
             o.config);
  return std::nullopt;
}

} // namespace

int run_scaling_bench(const actors::topology& topo,
                      const scaling_bench_options& options,
                      const std::string& binary) {
  if (auto why = refusal(topo, options); !why.empty()) {
    fmt::print(stderr, "{}\n", why);
    return 2;
  }
  auto shape = shape_of(topo);
  auto spec = checked_trials(options, shape, topo.job.seed);
  if (!spec)
    return 2;
  std::error_code ec;
  fs::create_directories(spec->output, ec);
  if (ec) {
    fmt::print(stderr, "bench scaling: cannot create {}: {}\n",
               spec->output.string(), ec.message());
    return 2;
  }
  fmt::print(stderr,
             "bench scaling: {} iterations of {} samples; trials in "
             "{} (mode {})\n",
             shape.iterations, shape.global_batch, spec->output.string(),
             options.mode);
  fmt::print(stderr, "[seq] sequential SGD in one thread ...\n");
  auto seq = sequential_row(topo, shape);
  fmt::print(stderr, "[seq] done in {:.1f} s, final test accuracy {:.4f}\n",
             seq.wall_s, seq.final_accuracy);
  auto target = options.target.empty() ? target_spec{"test_accuracy", false,
                                                     seq.final_accuracy - 0.005}
                                       : *parse_target(options.target);
  fmt::print(stderr, "target {}{}\n", target_text(target),
             options.target.empty()
                 ? " (the sequential final test accuracy - 0.005)"
                 : "");
  auto outcome = ex::run_trials(*spec, {binary, 1, true});
  if (outcome.interrupted) {
    fmt::print(stderr, "bench scaling: interrupted\n");
    return 1;
  }
  auto rows = trial_rows(*spec, options, shape);
  if (!rows)
    return 1;
  rows->insert(rows->begin(), seq);
  auto report = report_json(options, shape, target, *rows);
  if (options.json)
    fmt::print("{}\n", report.dump());
  else
    print_table(report);
  return 0;
}

} // namespace metronome::tools
