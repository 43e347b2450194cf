#include "launcher/experiment/runner.hpp"

#include "actors/core/job_records.hpp"
#include "messages/transport.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <thread>

namespace metronome::launcher::experiment {

namespace {

namespace fs = std::filesystem;
using actors::json;
using clock_type = std::chrono::steady_clock;

volatile std::sig_atomic_t stop_requested = 0;

void on_stop_signal(int) {
  stop_requested = 1;
}

struct running {
  const trial* t = nullptr;
  pid_t pid = -1;
  clock_type::time_point started;
  clock_type::time_point asked; ///< when it was asked to stop
  bool interrupted = false;
  bool killed = false;
  bool timed_out = false;
};

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The trial's topology as it runs: outputs in its folder and, for launch,
// ports free right now.
YAML::Node runnable_topology(const trial& t, trial_mode mode) {
  auto tree = YAML::Clone(t.topology);
  auto options = tree["options"];
  options["metrics_dir"] = t.dir.string();
  options["log_dir"] = (t.dir / "logs").string();
  auto algorithm = tree["job"]["algorithm"].as<std::string>("");
  if (algorithm == "lda")
    options["topics_out"] = (t.dir / "topics.txt").string();
  else
    options["parameters_out"] = (t.dir / "parameters.out").string();
  if (mode == trial_mode::launch) {
    auto nodes = tree["cluster"]["nodes"];
    auto ports = messages::free_tcp_ports(2 * nodes.size());
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      nodes[i]["port"] = ports[2 * i];
      nodes[i]["control_port"] = ports[2 * i + 1];
    }
  }
  return tree;
}

pid_t spawn(const std::vector<std::string>& args, const fs::path& out,
            const fs::path& err) {
  int out_fd =
      ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err_fd =
      ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = getpid();
  pid_t pid = out_fd >= 0 && err_fd >= 0 && null_fd >= 0 ? fork() : -1;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(1);
    // Its own process group: a Ctrl-C in the terminal reaches only the
    // experiment, which stops the trial in order.
    setpgid(0, 0);
    for (int sig : {SIGINT, SIGTERM})
      signal(sig, SIG_DFL);
    dup2(null_fd, STDIN_FILENO);
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    unsetenv("METRONOME_PROGRESS");
    std::vector<char*> argv;
    for (const auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    fmt::print(stderr, "cannot run {}: {}\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  for (int fd : {out_fd, err_fd, null_fd})
    if (fd >= 0)
      ::close(fd);
  return pid;
}

// Starts `t` in a fresh folder; returns the process, or pid -1 (with the
// reason in TRIAL/log.txt when the folder could be made).
running start(const trial& t, const experiment_spec& spec,
              const runner_options& options) {
  running r;
  r.t = &t;
  r.started = clock_type::now();
  std::error_code ec;
  fs::remove_all(t.dir, ec);
  fs::create_directories(t.dir, ec);
  auto topology = (t.dir / "topology.yaml").string();
  std::string error;
  try {
    error = ec ? "cannot create " + t.dir.string() + ": " + ec.message()
               : actors::write_file_atomically(
                     topology, emit(runnable_topology(t, spec.mode)));
  } catch (const std::exception& e) {
    error = t.dir.string() + ": " + e.what();
  }
  if (!error.empty()) {
    fmt::print(stderr, "experiment: {}\n", error);
    return r;
  }
  std::vector<std::string> args = {
      options.binary, spec.mode == trial_mode::run ? "run" : "launch",
      topology};
  if (spec.mode == trial_mode::launch)
    args.push_back("--no-progress");
  r.pid = spawn(args, t.dir / "output.txt", t.dir / "log.txt");
  return r;
}

std::string describe_exit(int status) {
  if (WIFEXITED(status))
    return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return std::string("killed by ") + strsignal(WTERMSIG(status));
  return "ended";
}

// User and system CPU seconds in `u`.
double cpu_seconds(const rusage& u) {
  auto us = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) +
           1e-6 * static_cast<double>(t.tv_usec);
  };
  return us(u.ru_utime) + us(u.ru_stime);
}

// Writes trial.json; true when the trial counts as complete. `usage`
// covers the trial's process and every process it waited for (its nodes,
// under launch).
bool finish(const running& r, int status, const rusage& usage,
            const experiment_spec& spec) {
  const auto& t = *r.t;
  double wall =
      std::chrono::duration<double>(clock_type::now() - r.started).count();
  auto final_line = actors::final_record(read_text(t.dir / "output.txt"));
  bool ok = !r.interrupted && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
            final_line.has_value();
  std::string why = r.timed_out     ? "timed out"
                    : r.interrupted ? "interrupted"
                    : !ok && WIFEXITED(status) && WEXITSTATUS(status) == 0
                        ? "no final JSON line"
                        : describe_exit(status);
  json record = {{"hash", t.hash},
                 {"cell", spec.cells[t.cell].label},
                 {"seed", t.seed},
                 {"status", ok ? "complete" : "failed"},
                 {"exit", describe_exit(status)},
                 {"trial_s", wall},
                 {"cpu_s", cpu_seconds(usage)}};
  if (!ok)
    record["reason"] = why;
  auto error = actors::write_file_atomically((t.dir / "trial.json").string(),
                                             record.dump() + "\n");
  if (!error.empty()) {
    fmt::print(stderr, "experiment: {}\n", error);
    return false;
  }
  return ok;
}

std::string duration_text(double seconds) {
  if (seconds < 60)
    return fmt::format("{:.1f} s", seconds);
  auto s = static_cast<long>(seconds + 0.5);
  return s < 3600 ? fmt::format("{}m{:02}s", s / 60, s % 60)
                  : fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
}

void install_stop_handlers() {
  stop_requested = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// Stops trials that were asked to stop or ran out of time: SIGINT first,
// SIGKILL 15 s later.
void police(std::vector<running>& active, const experiment_spec& spec) {
  auto now = clock_type::now();
  for (auto& r : active) {
    auto age = std::chrono::duration<double>(now - r.started).count();
    bool over = spec.trial_timeout_s > 0 && age > spec.trial_timeout_s;
    if ((stop_requested || over) && !r.interrupted) {
      r.interrupted = true;
      r.timed_out = over && !stop_requested;
      r.asked = now;
      kill(r.pid, SIGINT);
    }
    if (r.interrupted && !r.killed &&
        now - r.asked > std::chrono::seconds(15)) {
      r.killed = true;
      kill(-r.pid, SIGKILL);
      kill(r.pid, SIGKILL);
    }
  }
}

} // namespace

bool trial_complete(const trial& t) {
  auto text = read_text(t.dir / "trial.json");
  auto record = actors::parse_record(text);
  return record && record->value("hash", "") == t.hash &&
         record->value("status", "") == "complete";
}

namespace {

// The trials of one run_trials() call: queued, running, and what is done.
struct sweep {
  const experiment_spec& spec;
  const runner_options& options;
  runner_outcome outcome;
  std::deque<const trial*> queue;
  std::vector<running> active;
  std::size_t total = 0;
  std::size_t finished = 0;
  double spent = 0; ///< seconds of the trials finished

  // Starts queued trials while there is room and no stop was asked.
  void fill() {
    while (!stop_requested && !queue.empty() &&
           active.size() < options.parallel) {
      auto r = start(*queue.front(), spec, options);
      queue.pop_front();
      if (r.pid < 0) {
        ++outcome.failed;
        ++finished;
        continue;
      }
      active.push_back(r);
    }
  }

  // Collects the trials that ended.
  void reap() {
    for (auto it = active.begin(); it != active.end();) {
      int status = 0;
      rusage usage{};
      if (wait4(it->pid, &status, WNOHANG, &usage) != it->pid) {
        ++it;
        continue;
      }
      bool ok = finish(*it, status, usage, spec);
      ++(ok ? outcome.completed : outcome.failed);
      ++finished;
      report(*it, ok);
      it = active.erase(it);
    }
  }

  void report(const running& r, bool ok) {
    double took =
        std::chrono::duration<double>(clock_type::now() - r.started).count();
    spent += took;
    std::size_t left = queue.size();
    double eta = spent / static_cast<double>(finished) *
                 static_cast<double>(left) /
                 static_cast<double>(options.parallel);
    fmt::print(
        stderr, "[{}/{}] {} {} seed {} in {}  ({} running, {} left{})\n",
        finished, total, ok ? "done  " : "FAILED", spec.cells[r.t->cell].label,
        r.t->seed, duration_text(took), active.size() - 1, left,
        left > 0 && !stop_requested ? ", ETA " + duration_text(eta) : "");
    if (!ok)
      fmt::print(stderr, "  see {}\n", (r.t->dir / "log.txt").string());
  }
};

} // namespace

runner_outcome run_trials(const experiment_spec& spec,
                          const runner_options& options) {
  auto settings = options;
  settings.parallel = std::max<std::size_t>(1, options.parallel);
  sweep s{spec, settings, {}, {}, {}, 0, 0, 0};
  for (const auto& t : spec.trials) {
    if (!options.force && trial_complete(t))
      ++s.outcome.skipped;
    else
      s.queue.push_back(&t);
  }
  s.total = s.queue.size();
  fmt::print(stderr,
             "experiment {}: {} trials ({} cells x {} seeds), {} complete "
             "already, {} to run\n",
             spec.name, spec.trials.size(), spec.cells.size(),
             spec.seeds.size(), s.outcome.skipped, s.total);
  install_stop_handlers();
  while (!s.active.empty() || (!s.queue.empty() && !stop_requested)) {
    s.fill();
    police(s.active, spec);
    s.reap();
    if (!s.active.empty())
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  s.outcome.interrupted = stop_requested != 0;
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  return s.outcome;
}

} // namespace metronome::launcher::experiment
