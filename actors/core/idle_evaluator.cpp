#include "actors/core/idle_evaluator.hpp"

#include <spdlog/spdlog.h>
#include <tbb/task_arena.h>

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace metronome::actors {

namespace {

// Lowers the calling thread (on Linux a thread's id names it alone); a
// machine that refuses leaves it at normal priority, which only costs the
// training some speed.
void lower_this_thread() {
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()),
                  idle_evaluator::niceness) != 0)
    spdlog::debug("evaluations run at normal priority: setpriority: {}",
                  std::strerror(errno));
}

} // namespace

idle_evaluator::~idle_evaluator() {
  if (thread_.joinable())
    thread_.join();
}

void idle_evaluator::start(
    std::shared_ptr<const algorithms::data_parallel_program> program,
    std::vector<float> params, done_fn done) {
  if (thread_.joinable())
    thread_.join();
  thread_ = std::thread([program = std::move(program),
                         params = std::move(params), done = std::move(done)] {
    lower_this_thread();
    // One slot, this thread's: no worker of oneTBB's pool (at normal
    // priority) joins the evaluation's parallel loop.
    tbb::task_arena alone(1);
    algorithms::evaluation eval;
    std::string error;
    alone.execute([&] {
      try {
        eval = program->evaluate(params.data());
      } catch (const std::exception& e) {
        error = e.what();
      }
    });
    done(std::move(eval), std::move(error));
  });
}

} // namespace metronome::actors
