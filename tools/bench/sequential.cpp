#include "tools/bench/sequential.hpp"

#include "actors/core/job_records.hpp"
#include "actors/roles.hpp"
#include "algorithms/data/input_file.hpp"
#include "algorithms/sgd/models.hpp"
#include "algorithms/sgd/sgd.hpp"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <iterator>
#include <optional>
#include <string>

namespace metronome::tools {

algorithms::sequential_sgd_options
sequential_options(const actors::topology& topo, std::size_t samples) {
  algorithms::sequential_sgd_options o;
  o.workers = topo.count("worker");
  o.batch_size = topo.job.batch_size;
  o.learning_rate = topo.job.learning_rate;
  o.iterations = actors::schedule_of(topo, samples).iterations;
  o.seed = topo.job.seed;
  return o;
}

namespace {

// The job's summary.json, read as a regular file of at most 16 MiB, or
// nothing (said on stderr) when it cannot be read or has no wall_s.
std::optional<actors::json> job_summary(const actors::topology& topo) {
  auto path = (std::filesystem::path(topo.options.metrics_dir) / "summary.json")
                  .string();
  actors::json summary;
  try {
    if (topo.options.metrics_dir.empty())
      throw algorithms::load_error("the job has no metrics_dir");
    if (algorithms::regular_file_size(path) > (std::uint64_t{1} << 24))
      throw algorithms::load_error(path + ": larger than 16 MiB");
    auto in = algorithms::open_input_file(path);
    summary =
        actors::json::parse(std::istreambuf_iterator<char>(in),
                            std::istreambuf_iterator<char>(), nullptr, false);
    if (!summary.is_object() || !summary.contains("wall_s") ||
        !summary["wall_s"].is_number() || !(summary["wall_s"] > 0))
      throw algorithms::load_error(path + ": no positive wall_s in it");
  } catch (const algorithms::load_error& e) {
    fmt::print(stderr,
               "bench sequential: --compare reads the job's summary.json: "
               "{} (run the job first: metronome launch {})\n",
               e.what(), topo.source);
    return std::nullopt;
  }
  return summary;
}

} // namespace

int run_sequential(const actors::topology& topo, bool compare) {
  std::optional<actors::json> summary;
  if (compare && !(summary = job_summary(topo)))
    return 2;
  const auto& job = topo.job;
  auto train = actors::job_data(job.data, false);
  auto test = actors::job_data(job.data, true);
  auto model = actors::job_model(job, *train);
  auto o = sequential_options(topo, train->num_samples());
  // A summary of other work (another config, a stopped job) is no baseline.
  if (summary && summary->value("iterations", std::uint64_t{0}) !=
                     static_cast<std::uint64_t>(o.iterations)) {
    fmt::print(stderr,
               "bench sequential: --compare: the job's summary.json in {} is "
               "of {} iterations, but the job of {} has {}; run it first "
               "(metronome launch {})\n",
               topo.options.metrics_dir,
               summary->value("iterations", std::uint64_t{0}), topo.source,
               o.iterations, topo.source);
    return 2;
  }
  auto start = std::chrono::steady_clock::now();
  auto w = algorithms::sequential_sgd(*model, *train, o);
  std::chrono::duration<double> wall = std::chrono::steady_clock::now() - start;
  auto eval = model->evaluate(w.data(), *test);
  double samples = static_cast<double>(o.iterations * o.workers * o.batch_size);
  actors::json record = {{"sequential_wall_s", wall.count()},
                         {"samples_per_s", samples / wall.count()},
                         {"iterations", o.iterations},
                         {"final_test_accuracy", eval.accuracy}};
  if (summary) {
    double job_wall = summary->value("wall_s", 0.0);
    record["job_wall_s"] = job_wall;
    record["job_speedup"] = wall.count() / job_wall;
    fmt::print("the job: {:.1f} s to test accuracy {:.4f}; the same "
               "arithmetic in one thread: {:.1f} s to {:.4f}; the job ran at "
               "{:.2f} times one thread's speed\n",
               job_wall, summary->value("final_test_accuracy", 0.0),
               wall.count(), eval.accuracy, wall.count() / job_wall);
  }
  fmt::print("{}\n", record.dump());
  return 0;
}

} // namespace metronome::tools
