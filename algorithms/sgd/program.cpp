#include "algorithms/sgd/program.hpp"

#include "algorithms/sgd/minibatch.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace metronome::algorithms {

sgd_program::sgd_program(std::shared_ptr<const dataset> train,
                         std::shared_ptr<const dataset> test,
                         std::unique_ptr<model> m, sgd_settings s)
    : train_(std::move(train))
    , test_(std::move(test))
    , model_(std::move(m))
    , settings_(s) {}

void sgd_program::initialize(float* w) const {
  model_->initialize(w, settings_.seed);
}

worker_step sgd_program::compute(const float* w, std::size_t rank,
                                 std::size_t workers, std::uint64_t iteration,
                                 float* update) const {
  auto shard = data_shard(train_->total_samples(), workers, rank);
  std::size_t first = train_->first_sample;
  if (shard.begin < first || shard.end > first + train_->num_samples())
    throw std::logic_error(fmt::format(
        "sgd_program: worker {} of {} trains on samples [{}, {}) but only "
        "[{}, {}) are loaded",
        rank, workers, shard.begin, shard.end, first,
        first + train_->num_samples()));
  auto batch =
      minibatch(shard, settings_.batch_size, settings_.seed, iteration);
  for (auto& i : batch)
    i -= first;
  worker_step step;
  step.loss = model_->loss_and_gradient(w, *train_, batch, update);
  step.samples = batch.size();
  return step;
}

evaluation sgd_program::evaluate(const float* w) const {
  if (!test_)
    throw std::logic_error("sgd_program: evaluate without a test set");
  return model_->evaluate(w, *test_);
}

} // namespace metronome::algorithms
