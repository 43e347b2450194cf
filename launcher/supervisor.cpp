#include "launcher/supervisor.hpp"

#include "launcher/config.hpp"

#include "actors/core/job_records.hpp"
#include "actors/node.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

namespace metronome::launcher {

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::size_t kept_lines = 20;

volatile std::sig_atomic_t stop_signal = 0;

void on_signal(int sig) {
  stop_signal = sig;
}

std::string describe(int status) {
  if (WIFEXITED(status))
    return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return std::string("signal ") + strsignal(WTERMSIG(status));
  return "unknown status";
}

std::string join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv)
    out += (out.empty() ? "" : " ") + a;
  return out;
}

// One child process and what it printed.
struct child {
  planned_process spec;
  pid_t pid = -1;
  int out_fd = -1;
  int err_fd = -1;
  int in_fd = -1; // closing it tells the node (even a remote one) to stop
  clock_type::time_point reaped;
  std::string out_partial;
  std::string err_partial;
  std::deque<std::string> last_lines;
  std::ofstream log;
  bool exited = false;
  int status = 0;
  int stopped_by = 0;     // the signal that stopped it, while stopped
  int was_stopped_by = 0; // the last signal that ever stopped it
  rusage usage{};         // from wait4 once it has exited
};

// What the local nodes cost: how long the job took to start, and the sum
// of the nodes' peak resident sizes (at least the peak of their sum) and
// their CPU time, for a cluster on one machine.
void print_resources(const std::vector<child>& children,
                     std::optional<double> started_after) {
  std::size_t n = 0;
  long total_kib = 0;
  double cpu = 0;
  const child* largest = nullptr;
  for (const auto& c : children) {
    if (!c.exited || !c.spec.local)
      continue;
    ++n;
    total_kib += c.usage.ru_maxrss;
    cpu +=
        static_cast<double>(c.usage.ru_utime.tv_sec + c.usage.ru_stime.tv_sec) +
        1e-6 * static_cast<double>(c.usage.ru_utime.tv_usec +
                                   c.usage.ru_stime.tv_usec);
    if (!largest || c.usage.ru_maxrss > largest->usage.ru_maxrss)
      largest = &c;
  }
  if (n == 0)
    return;
  std::string start =
      started_after ? fmt::format("the job started {:.1f} s after launch; ",
                                  *started_after)
                    : "";
  fmt::print(stderr,
             "launch: {}{} local node processes peaked at {:.0f} MiB "
             "together (the sum of each one's peak resident size; largest "
             "{}, {:.0f} MiB) and used {:.1f} s of CPU\n",
             start, n, static_cast<double>(total_kib) / 1024.0,
             largest->spec.node,
             static_cast<double>(largest->usage.ru_maxrss) / 1024.0, cpu);
}

// A local node stopped by a signal (SIGSTOP, SIGTSTP) or continued: said
// at once, since its peers will take it for dead while it is stopped.
void note_stop(child& c, int status) {
  if (WIFSTOPPED(status)) {
    c.stopped_by = c.was_stopped_by = WSTOPSIG(status);
    fmt::print(stderr,
               "launch: node {} on {} is stopped ({}); nothing it hosts "
               "runs until it is continued (kill -CONT {})\n",
               c.spec.node, c.spec.host, strsignal(c.stopped_by), c.pid);
  } else if (WIFCONTINUED(status) && c.stopped_by != 0) {
    c.stopped_by = 0;
    fmt::print(stderr, "launch: node {} on {} continued\n", c.spec.node,
               c.spec.host);
  }
}

// The live progress display fed by the coordinator's "@progress" lines.
class progress_display {
public:
  explicit progress_display(bool enabled)
      : enabled_(enabled)
      , tty_(isatty(STDERR_FILENO) == 1) {}

  // `line` is the JSON object of one "@progress" line: "iteration" of
  // "iterations" gives the bar, the other fields follow it as they come.
  void update(const std::string& line) {
    if (!enabled_)
      return;
    auto record = actors::parse_record(line);
    if (!record)
      return;
    auto number = [&](const char* key, double otherwise) {
      auto it = record->find(key);
      return it != record->end() && it->is_number() ? it->get<double>()
                                                    : otherwise;
    };
    auto it = number("iteration", 0);
    auto total = number("iterations", 1);
    fraction_ = std::clamp(total > 0 ? it / total : 0.0, 0.0, 1.0);
    text_ = fmt::format("iteration {:.0f}/{:.0f}", it, total);
    for (const auto& [key, value] : record->items()) {
      if (key == "iteration" || key == "iterations" || key == "wall_s")
        continue;
      if (value.is_number_float())
        text_ += fmt::format("  {} {:.4g}", key, value.get<double>());
      else if (value.is_string())
        text_ += fmt::format("  {} {}", key, value.get<std::string>());
      else if (value.is_number())
        text_ += fmt::format("  {} {}", key, value.dump());
    }
    if (tty_) {
      draw();
    } else if (fraction_ >= next_plain_ || fraction_ >= 1.0) {
      fmt::print(stderr, "progress {:3.0f}%  {}\n", 100 * fraction_, text_);
      next_plain_ = fraction_ + 0.1;
    }
  }

  // Prints a line of node output without tearing the bar.
  void print(std::FILE* stream, const std::string& line) {
    if (shown_)
      fmt::print(stderr, "\r\033[K");
    fmt::print(stream, "{}\n", line);
    std::fflush(stream);
    if (shown_)
      draw();
  }

  void finish() {
    if (shown_)
      fmt::print(stderr, "\n");
    shown_ = false;
  }

private:
  void draw() {
    constexpr int width = 24;
    int filled = static_cast<int>(fraction_ * width);
    fmt::print(stderr, "\r\033[K[{}{}] {:3.0f}%  {}", std::string(filled, '#'),
               std::string(width - filled, '.'), 100 * fraction_, text_);
    std::fflush(stderr);
    shown_ = true;
  }

  bool enabled_;
  bool tty_;
  bool shown_ = false;
  double fraction_ = 0;
  double next_plain_ = 0.1;
  std::string text_;
};

void set_nonblocking(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

bool spawn(child& c, pid_t parent) {
  int out[2], err[2], in[2];
  if (pipe2(out, O_CLOEXEC) != 0)
    return false;
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    return false;
  }
  if (pipe2(in, O_CLOEXEC) != 0) {
    for (int fd : {out[0], out[1], err[0], err[1]})
      close(fd);
    return false;
  }
  // Signals stay blocked until the child has reset its handlers, so none is
  // lost in the launcher's handler between fork and exec.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  pid_t pid = fork();
  if (pid < 0) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    for (int fd : {out[0], out[1], err[0], err[1], in[0], in[1]})
      close(fd);
    return false;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(1);
    // Its own process group: a Ctrl-C in the terminal reaches only the
    // launcher, which stops the nodes in order.
    setpgid(0, 0);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE})
      signal(sig, SIG_DFL);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    setenv("METRONOME_PROGRESS", "1", 1);
    std::vector<char*> argv;
    for (auto& a : c.spec.argv)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    fmt::print(stderr, "cannot run {}: {}\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close(out[1]);
  close(err[1]);
  close(in[0]);
  set_nonblocking(out[0]);
  set_nonblocking(err[0]);
  c.pid = pid;
  c.out_fd = out[0];
  c.err_fd = err[0];
  c.in_fd = in[1];
  return true;
}

} // namespace

std::vector<planned_process> plan(const actors::topology& topo,
                                  const std::string& config,
                                  const std::string& exe) {
  auto config_path = std::filesystem::absolute(config).string();
  std::vector<planned_process> result;
  for (const auto& node : topo.nodes) {
    planned_process p;
    p.node = node.name;
    p.host = node.host;
    p.local = is_local_host(node.host);
    p.expendable = topo.job.consistency == "cutoff" &&
                   std::all_of(node.actors.begin(), node.actors.end(),
                               [](const std::string& a) {
                                 return a.rfind("worker/", 0) == 0;
                               });
    if (!p.local) {
      std::istringstream words(topo.options.remote_command);
      std::string word;
      while (words >> word) {
        for (auto pos = word.find("{host}"); pos != std::string::npos;
             pos = word.find("{host}"))
          word.replace(pos, 6, node.host);
        p.argv.push_back(word);
      }
    }
    // ssh does not forward the environment: set it on the command line.
    if (!p.local)
      for (std::string a : {"env", "METRONOME_PROGRESS=1"})
        p.argv.push_back(a);
    for (std::string a :
         {exe, std::string("node"), std::string("--topology"), config_path,
          std::string("--name"), node.name, std::string("--watch-stdin")})
      p.argv.push_back(a);
    result.push_back(std::move(p));
  }
  return result;
}

int launch(const actors::topology& topo, const std::string& config,
           const std::string& exe, const launch_options& opts) {
  auto processes = plan(topo, config, exe);
  if (opts.dry_run) {
    for (const auto& p : processes)
      fmt::print("node {} on {} ({}): {}\n", p.node, p.host,
                 p.local ? "local" : "remote", join(p.argv));
    return 0;
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT})
    sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  const auto* coordinator = topo.node_of("coordinator/0");
  progress_display display(opts.progress);
  if (!topo.options.log_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(topo.options.log_dir, ec);
    if (ec) {
      fmt::print(stderr,
                 "launch: cannot create log_dir {} (options.log_dir "
                 "in {}): {}\n",
                 topo.options.log_dir, config, ec.message());
      return 2;
    }
  }

  std::vector<child> children(processes.size());
  int result = 0;
  for (std::size_t i = 0; i < processes.size(); ++i) {
    auto& c = children[i];
    c.spec = processes[i];
    if (!spawn(c, getpid())) {
      fmt::print(stderr, "launch: cannot start node {}: {}\n", c.spec.node,
                 std::strerror(errno));
      c.exited = true;
      result = 1;
      break;
    }
  }
  // Opened after every fork, so no node inherits another's log file.
  for (auto& c : children) {
    if (topo.options.log_dir.empty() || c.pid <= 0)
      continue;
    auto path =
        std::filesystem::path(topo.options.log_dir) / (c.spec.node + ".log");
    c.log.open(path);
    if (!c.log)
      fmt::print(stderr, "launch: cannot write {}\n", path.string());
  }
  fmt::print(
      stderr, "launch: launched {} node processes ({} local)\n",
      std::count_if(children.begin(), children.end(),
                    [](const child& c) { return c.pid > 0; }),
      std::count_if(children.begin(), children.end(),
                    [](const child& c) { return c.pid > 0 && c.spec.local; }));

  // Nodes of workers only are expendable once the job runs: before, the
  // coordinator still waits for their hello.
  std::optional<double> started_after; // the job has started
  auto launched_at = clock_type::now();
  auto handle_line = [&](child& c, bool is_stdout, const std::string& line) {
    if (is_stdout && line.rfind("@progress ", 0) == 0) {
      display.update(line.substr(10));
      return;
    }
    c.last_lines.push_back(line);
    if (c.last_lines.size() > kept_lines)
      c.last_lines.pop_front();
    if (c.log.is_open())
      c.log << line << '\n' << std::flush;
    bool job_output =
        is_stdout && coordinator != nullptr && c.spec.node == coordinator->name;
    if (job_output && line.rfind("job started", 0) == 0) {
      started_after =
          std::chrono::duration<double>(clock_type::now() - launched_at)
              .count();
    }
    if (job_output)
      display.print(stdout, line);
    else
      display.print(stderr, "[" + c.spec.node + "] " + line);
  };
  auto close_fd = [](int& fd) {
    if (fd >= 0)
      close(fd);
    fd = -1;
  };
  // Reads what is there, at most a few buffers per call so that signals and
  // exits are noticed even when a node prints without pause.
  auto drain = [&](child& c, int& fd, std::string& partial, bool is_stdout) {
    char buf[8192];
    for (int round = 0; round < 16 && fd >= 0; ++round) {
      auto n = read(fd, buf, sizeof(buf));
      if (n > 0) {
        partial.append(buf, static_cast<std::size_t>(n));
        std::size_t pos;
        while ((pos = partial.find('\n')) != std::string::npos) {
          handle_line(c, is_stdout, partial.substr(0, pos));
          partial.erase(0, pos + 1);
        }
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
      if (!partial.empty())
        handle_line(c, is_stdout, partial);
      partial.clear();
      close_fd(fd);
    }
  };
  auto report = [&](child& c, const std::string& what) {
    drain(c, c.out_fd, c.out_partial, true);
    drain(c, c.err_fd, c.err_partial, false);
    display.finish();
    fmt::print(stderr, "launch: node {} on {} {}. Its last output:\n",
               c.spec.node, c.spec.host, what);
    for (const auto& line : c.last_lines)
      fmt::print(stderr, "  | {}\n", line);
  };

  bool stopping = false;
  bool killed = false;
  bool named_failure = false;
  std::vector<child*> self_stopped;
  auto kill_at = clock_type::now();
  // Closing a node's stdin stops it wherever it runs (ssh passes the end of
  // input on); local process groups also get SIGTERM.
  auto begin_stop = [&] {
    if (stopping)
      return;
    stopping = true;
    kill_at = clock_type::now() + std::chrono::milliseconds(static_cast<long>(
                                      opts.stop_grace_seconds * 1000));
    for (auto& c : children) {
      close_fd(c.in_fd);
      if (c.pid > 0 && !c.exited && c.spec.local)
        kill(-c.pid, SIGTERM);
      // A stopped node takes its SIGTERM once continued.
      if (c.pid > 0 && !c.exited && c.spec.local && c.stopped_by != 0)
        kill(-c.pid, SIGCONT);
    }
  };
  if (result != 0)
    begin_stop();

  auto running = [&] {
    return std::any_of(children.begin(), children.end(), [](const child& c) {
      return (c.pid > 0 && !c.exited) || c.out_fd >= 0 || c.err_fd >= 0;
    });
  };
  while (running()) {
    std::vector<pollfd> fds;
    std::vector<std::pair<child*, bool>> owners;
    for (auto& c : children) {
      if (c.out_fd >= 0) {
        fds.push_back({c.out_fd, POLLIN, 0});
        owners.emplace_back(&c, true);
      }
      if (c.err_fd >= 0) {
        fds.push_back({c.err_fd, POLLIN, 0});
        owners.emplace_back(&c, false);
      }
    }
    poll(fds.data(), fds.size(), 50);
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0)
        continue;
      auto& [c, is_stdout] = owners[i];
      if (is_stdout)
        drain(*c, c->out_fd, c->out_partial, true);
      else
        drain(*c, c->err_fd, c->err_partial, false);
    }
    int status = 0;
    pid_t pid;
    rusage usage{};
    while ((pid = wait4(-1, &status, WNOHANG | WUNTRACED | WCONTINUED,
                        &usage)) > 0) {
      auto c = std::find_if(children.begin(), children.end(),
                            [pid](const child& x) { return x.pid == pid; });
      if (c == children.end())
        continue;
      if (WIFSTOPPED(status) || WIFCONTINUED(status)) {
        note_stop(*c, status);
        continue;
      }
      c->exited = true;
      c->status = status;
      c->usage = usage;
      c->reaped = clock_type::now();
      int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      if (code == actors::node_finished)
        continue;
      if (c->spec.expendable && started_after && !stopping &&
          code != actors::node_stopped) {
        report(*c, "failed (" + describe(status) +
                       "); the job goes on without its workers");
        continue;
      }
      result = 1;
      // While stopping, a node ending by our signal, with exit 3, or (ssh)
      // with 255 did what it was asked; only its own failure is named.
      bool asked =
          stopping &&
          (code == actors::node_stopped || (!c->spec.local && code == 255) ||
           (WIFSIGNALED(status) &&
            (WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGKILL)));
      if (code == actors::node_stopped && !stopping) {
        // Usually the echo of a failure elsewhere that is not reaped yet:
        // named at the end only if no node failed.
        self_stopped.push_back(&*c);
      } else if (!asked) {
        report(*c, "failed (" + describe(status) + ")" +
                       (stopping ? "" : "; stopping the others"));
        named_failure = true;
      }
      begin_stop();
    }
    // A node's descendants may keep its pipes open: stop reading a second
    // after the node itself has ended.
    for (auto& c : children)
      if (c.exited && clock_type::now() - c.reaped > std::chrono::seconds(1)) {
        close_fd(c.out_fd);
        close_fd(c.err_fd);
      }
    if (stop_signal != 0 && !stopping) {
      display.finish();
      fmt::print(stderr, "launch: {} received; stopping every node\n",
                 strsignal(stop_signal));
      result = 1;
      begin_stop();
    }
    if (stopping && !killed && clock_type::now() > kill_at) {
      killed = true;
      for (auto& c : children) {
        if (c.pid > 0 && !c.exited) {
          fmt::print(stderr,
                     "launch: node {} did not stop in {} s; killing it\n",
                     c.spec.node, opts.stop_grace_seconds);
          kill(c.spec.local ? -c.pid : c.pid, SIGKILL);
        }
      }
    }
  }
  for (auto& c : children)
    close_fd(c.in_fd);
  // A node that was stopped by a signal is why its peers gave up on it;
  // the nodes that then stopped did so because of it.
  auto stopped = std::find_if(children.begin(), children.end(),
                              [](const child& c) { return c.was_stopped_by; });
  if (!named_failure && result != 0 && stopped != children.end())
    report(*stopped, fmt::format("was stopped ({}) and did not answer its "
                                 "peers; the other nodes stopped because of it",
                                 strsignal(stopped->was_stopped_by)));
  else if (!named_failure)
    for (auto* c : self_stopped)
      report(*c, "stopped by itself (exit status 3)");
  display.finish();
  print_resources(children, started_after);
  return result;
}

} // namespace metronome::launcher
