#include "tools/bench/sequential.hpp"

#include "actors/core/job_records.hpp"
#include "actors/roles.hpp"
#include "algorithms/sgd/models.hpp"
#include "algorithms/sgd/sgd.hpp"

#include <fmt/format.h>

#include <chrono>

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

int run_sequential(const actors::topology& topo) {
  const auto& job = topo.job;
  auto train = actors::job_data(job.data, false);
  auto test = actors::job_data(job.data, true);
  auto model = actors::job_model(job, *train);
  auto o = sequential_options(topo, train->num_samples());
  auto start = std::chrono::steady_clock::now();
  auto w = algorithms::sequential_sgd(*model, *train, o);
  std::chrono::duration<double> wall = std::chrono::steady_clock::now() - start;
  auto eval = model->evaluate(w.data(), *test);
  double samples = static_cast<double>(o.iterations * o.workers * o.batch_size);
  actors::json record = {{"sequential_wall_s", wall.count()},
                         {"samples_per_s", samples / wall.count()},
                         {"iterations", o.iterations},
                         {"final_test_accuracy", eval.accuracy}};
  fmt::print("{}\n", record.dump());
  return 0;
}

} // namespace metronome::tools
