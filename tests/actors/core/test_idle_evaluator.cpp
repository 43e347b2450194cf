// The coordinator's mid-run evaluations: on a thread of their own, at idle
// priority, without oneTBB's pool, with the program's own result.

#include "actors/core/idle_evaluator.hpp"

#include <gtest/gtest.h>
#include <tbb/task_arena.h>

#include <sys/resource.h>
#include <unistd.h>

#include <future>
#include <numeric>
#include <stdexcept>
#include <thread>

namespace metronome::actors {
namespace {

// Judges parameters by their sum, and notes where it ran.
class summing_program final : public algorithms::data_parallel_program {
public:
  mutable std::thread::id ran_on;
  mutable int niceness = 0;
  mutable int concurrency = 0;
  bool fails = false;

  std::size_t parameters() const override { return 4; }
  std::vector<algorithms::parameter_block> blocks() const override {
    return {};
  }
  void initialize(float*) const override {}
  std::size_t samples() const override { return 0; }
  algorithms::worker_step compute(const float*, std::size_t, std::size_t,
                                  std::uint64_t, float*) const override {
    return {};
  }
  float learning_rate() const override { return 0.1f; }
  algorithms::evaluation evaluate(const float* w) const override {
    ran_on = std::this_thread::get_id();
    niceness = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
    concurrency = tbb::this_task_arena::max_concurrency();
    if (fails)
      throw std::runtime_error("out of test data");
    algorithms::evaluation e;
    e.loss = std::accumulate(w, w + parameters(), 0.0);
    return e;
  }
};

struct outcome {
  algorithms::evaluation eval;
  std::string error;
};

outcome evaluate_on(idle_evaluator& evaluator,
                    std::shared_ptr<summing_program> program,
                    std::vector<float> params) {
  std::promise<outcome> done;
  evaluator.start(program, std::move(params),
                  [&](algorithms::evaluation eval, std::string error) {
                    done.set_value({std::move(eval), std::move(error)});
                  });
  return done.get_future().get();
}

TEST(IdleEvaluator, EvaluatesOnALoweredThreadOfItsOwnAlone) {
  idle_evaluator evaluator;
  auto program = std::make_shared<summing_program>();
  auto first = evaluate_on(evaluator, program, {1, 2, 3, 4});
  EXPECT_EQ(first.error, "");
  EXPECT_EQ(first.eval.loss, 10.0);
  EXPECT_NE(program->ran_on, std::this_thread::get_id());
  EXPECT_EQ(program->niceness, idle_evaluator::niceness);
  EXPECT_EQ(program->concurrency, 1);
  // One after another on the same evaluator, each on its own parameters.
  auto second = evaluate_on(evaluator, program, {0.5f, 0, 0, 0});
  EXPECT_EQ(second.eval.loss, 0.5);
}

TEST(IdleEvaluator, WhatTheProgramThrowsComesBackAsTheError) {
  idle_evaluator evaluator;
  auto program = std::make_shared<summing_program>();
  program->fails = true;
  auto r = evaluate_on(evaluator, program, {1, 2, 3, 4});
  EXPECT_EQ(r.error, "out of test data");
}

} // namespace
} // namespace metronome::actors
