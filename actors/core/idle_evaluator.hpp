#pragma once

#include "algorithms/program.hpp"

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace metronome::actors {

/// Evaluates a program's parameters on a thread of its own, at a low
/// scheduling priority (nice 10) and on that thread alone, so that judging
/// the model while it trains takes mostly CPU the training leaves idle.
///
/// Not the lowest (SCHED_IDLE): on cores the training keeps busy all the
/// time, that would hold the job's progress lines back until it ends,
/// where nice 10 still gets about a tenth of a core.
///
/// One evaluation runs at a time; the result is the program's own, on one
/// thread as on all (algorithms::data_parallel_program::evaluate).
class idle_evaluator {
public:
  /// Called on the evaluator's thread with the evaluation, or with what
  /// the program threw (then `error` is not empty).
  using done_fn =
      std::function<void(algorithms::evaluation eval, std::string error)>;

  /// The nice value the evaluator's thread runs at.
  static constexpr int niceness = 10;

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
