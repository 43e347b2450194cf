#pragma once

#include "algorithms/program.hpp"
#include "algorithms/sgd/models.hpp"

#include <memory>

namespace metronome::algorithms {

/// The settings of SGD that are the program's own (not the pacing's).
struct sgd_settings {
  std::size_t batch_size = 32; ///< per worker
  float learning_rate = 0.1f;
  std::uint64_t seed = 1;
};

/// Mini-batch SGD on a model as a data-parallel program: worker `rank`
/// computes the mean gradient of its mini-batch minibatch(data_shard(n,
/// workers, rank), batch_size, seed, iteration), the servers apply
/// -learning_rate times the mean over the workers.
class sgd_program : public data_parallel_program {
public:
  /// `test` may be null for roles that never evaluate (workers, servers).
  /// `train` may hold only part of its file (see dataset::first_sample):
  /// compute() then serves only the ranks whose shard it holds.
  sgd_program(std::shared_ptr<const dataset> train,
              std::shared_ptr<const dataset> test, std::unique_ptr<model> m,
              sgd_settings s);

  std::size_t parameters() const override { return model_->num_parameters(); }
  std::vector<parameter_block> blocks() const override {
    return model_->blocks();
  }
  void initialize(float* w) const override;
  std::size_t samples() const override { return train_->total_samples(); }
  /// Throws std::logic_error when the training set does not hold the
  /// shard of `rank`.
  worker_step compute(const float* w, std::size_t rank, std::size_t workers,
                      std::uint64_t iteration, float* update) const override;
  float learning_rate() const override { return settings_.learning_rate; }
  /// Throws std::logic_error when built without a test set.
  evaluation evaluate(const float* w) const override;

  const model& sgd_model() const { return *model_; }

private:
  std::shared_ptr<const dataset> train_;
  std::shared_ptr<const dataset> test_;
  std::unique_ptr<model> model_;
  sgd_settings settings_;
};

} // namespace metronome::algorithms
