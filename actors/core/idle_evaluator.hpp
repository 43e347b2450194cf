#pragma once

#include "algorithms/program.hpp"

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace metronome::actors {

/// Evaluates a program's parameters on a thread of its own, at the lowest
/// scheduling priority (Linux SCHED_IDLE) and on that thread alone, so
/// that judging the model while it trains takes only CPU the training
/// leaves idle.
///
/// One evaluation runs at a time; the result is the program's own, on one
/// thread as on all (algorithms::data_parallel_program::evaluate).
class idle_evaluator {
public:
  /// Called on the evaluator's thread with the evaluation, or with what
  /// the program threw (then `error` is not empty).
  using done_fn =
      std::function<void(algorithms::evaluation eval, std::string error)>;

  idle_evaluator() = default;
  idle_evaluator(const idle_evaluator&) = delete;
  idle_evaluator& operator=(const idle_evaluator&) = delete;
  /// Waits for the evaluation still running.
  ~idle_evaluator();

  /// Evaluates `params` with `program`, then calls `done`. The previous
  /// evaluation must have called its `done` already.
  void start(std::shared_ptr<const algorithms::data_parallel_program> program,
             std::vector<float> params, done_fn done);

private:
  std::thread thread_;
};

} // namespace metronome::actors
