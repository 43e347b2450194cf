#include "launcher/supervisor.hpp"

#include <fmt/format.h>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <map>
#include <thread>

namespace metronome::launcher {

namespace {

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

} // namespace

int launch_local(const actors::topology& topo, const std::string& config,
                 const std::string& exe) {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  auto parent = getpid();
  std::map<pid_t, std::string> children;
  for (const auto& node : topo.nodes) {
    pid_t pid = fork();
    if (pid < 0) {
      fmt::print(stderr, "launch: cannot start node {}: {}\n", node.name,
                 std::strerror(errno));
      break;
    }
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent)
        _exit(1);
      signal(SIGINT, SIG_IGN); // the launcher decides how nodes stop
      execl(exe.c_str(), exe.c_str(), "node", "--topology", config.c_str(),
            "--name", node.name.c_str(), static_cast<char*>(nullptr));
      fmt::print(stderr, "launch: cannot run {}: {}\n", exe,
                 std::strerror(errno));
      _exit(127);
    }
    children[pid] = node.name;
  }
  fmt::print("launched {} node processes\n", children.size());
  std::fflush(stdout);
  int result = children.size() == topo.nodes.size() ? 0 : 1;
  bool stopping = false;
  bool killed = false;
  auto kill_at = std::chrono::steady_clock::now();
  auto begin_stop = [&] {
    if (stopping)
      return;
    stopping = true;
    kill_at = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (const auto& [pid, name] : children)
      kill(pid, SIGTERM);
  };
  if (result != 0)
    begin_stop();
  while (!children.empty()) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      auto name = children[pid];
      children.erase(pid);
      bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!clean && !stopping)
        fmt::print(stderr, "launch: node {} failed ({}); stopping the others\n",
                   name, describe(status));
      if (!clean) {
        result = 1;
        begin_stop();
      }
      continue;
    }
    if (stop_signal != 0 && !stopping) {
      fmt::print(stderr, "launch: {} received; stopping {} nodes\n",
                 strsignal(stop_signal), children.size());
      result = 1;
      begin_stop();
    }
    if (stopping && !killed && std::chrono::steady_clock::now() > kill_at) {
      killed = true;
      for (const auto& [child, name] : children) {
        fmt::print(stderr, "launch: node {} did not stop; killing it\n", name);
        kill(child, SIGKILL);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return result;
}

} // namespace metronome::launcher
