#include "launcher/runtime.hpp"

#include "actors/node.hpp"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <mutex>
#include <thread>

namespace metronome::launcher {

namespace {

// Blocks SIGINT and SIGTERM in this thread and every thread started after
// it (so it must exist before the actor system), and hands them to the
// handler installed with on_signal() on a dedicated thread; a signal that
// arrives before a handler is installed is delivered on installation.
class signal_watch {
public:
  signal_watch() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    thread_ = std::thread([this] {
      timespec timeout{0, 100'000'000};
      while (!done_) {
        int sig = sigtimedwait(&set_, nullptr, &timeout);
        if (sig > 0)
          deliver(sig);
      }
    });
  }

  ~signal_watch() {
    done_ = true;
    thread_.join();
  }

  void on_signal(std::function<void(int)> handler) {
    int pending;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      handler_ = std::move(handler);
      pending = pending_;
    }
    if (pending != 0)
      deliver(pending);
  }

private:
  void deliver(int sig) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (handler_)
      handler_(sig);
    else
      pending_ = sig;
  }

  sigset_t set_;
  std::atomic<bool> done_{false};
  std::mutex mtx_;
  std::function<void(int)> handler_;
  int pending_ = 0;
  std::thread thread_;
};

} // namespace

std::string node_identity(const actors::topology& topo,
                          const std::string& given, std::string& error) {
  auto known = [&](const std::string& name, const std::string& source) {
    if (topo.find_node(name) != nullptr)
      return name;
    error = "no node named '" + name + "' (from " + source + ")";
    return std::string();
  };
  if (!given.empty())
    return known(given, "--name");
  const char* name = std::getenv("METRONOME_NODE");
  if (name != nullptr && *name != '\0')
    return known(name, "METRONOME_NODE");
  // mpirun inside a Slurm allocation may inherit a SLURM_PROCID of its
  // launcher: the MPI rank wins.
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "SLURM_PROCID"}) {
    const char* value = std::getenv(var);
    if (value == nullptr || *value == '\0')
      continue;
    std::string_view text = value;
    bool digits = text.size() < 10 &&
                  std::all_of(text.begin(), text.end(),
                              [](char c) { return c >= '0' && c <= '9'; });
    auto index = digits ? std::stoul(value) : topo.nodes.size();
    if (index >= topo.nodes.size()) {
      error = std::string(var) + "=" + value + " is not an index into the " +
              std::to_string(topo.nodes.size()) + " nodes of the topology";
      return {};
    }
    return topo.nodes[index].name;
  }
  error = "which node? give --name, or set METRONOME_NODE, or start under "
          "srun (SLURM_PROCID) or mpirun (OMPI_COMM_WORLD_RANK)";
  return {};
}

int run_in_process(const actors::topology& topo) {
  signal_watch signals;
  caf::actor_system_config cfg;
  actors::configure_actor_system(cfg);
  caf::actor_system sys{cfg};
  zmq::context_t ctx;
  std::vector<std::unique_ptr<actors::node>> nodes;
  auto abort_all = [&](const std::string& reason) {
    for (auto& n : nodes)
      n->abort(reason);
  };
  int status = 0;
  try {
    for (const auto& spec : topo.nodes)
      nodes.push_back(std::make_unique<actors::node>(
          sys, ctx, topo, spec.name, actors::endpoint_mode::inproc));
    // One process: a failure anywhere ends every node at once.
    for (auto& n : nodes)
      n->on_failure(abort_all);
    signals.on_signal([&](int sig) { abort_all(strsignal(sig)); });
    for (auto& n : nodes)
      n->start();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    status = actors::node_failed;
    abort_all("start-up failed");
  }
  for (auto& n : nodes) {
    int code = n->wait();
    if (code == actors::node_failed || status == actors::node_finished)
      status = code == actors::node_finished ? status : code;
  }
  signals.on_signal({});
  nodes.clear();
  return status;
}

int run_node(const actors::topology& topo, const std::string& name,
             bool watch_stdin) {
  signal_watch signals;
  if (watch_stdin) {
    // The launcher holds the other end; ssh passes its closing on. The
    // thread turns it into a SIGTERM, handled like any other.
    // Only async-signal-safe calls: the thread may wake while the process
    // is already exiting.
    std::thread([] {
      char buf[256];
      while (::read(STDIN_FILENO, buf, sizeof(buf)) > 0)
        ;
      ::kill(::getpid(), SIGTERM);
    }).detach();
  }
  caf::actor_system_config cfg;
  actors::configure_actor_system(cfg);
  caf::actor_system sys{cfg};
  zmq::context_t ctx;
  std::unique_ptr<actors::node> node;
  int status = 0;
  try {
    node = std::make_unique<actors::node>(sys, ctx, topo, name,
                                          actors::endpoint_mode::tcp);
    signals.on_signal([&](int sig) { node->abort(strsignal(sig)); });
    node->start();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    status = actors::node_failed;
    if (node)
      node->abort("start-up failed");
  }
  if (node) {
    int code = node->wait();
    if (status == actors::node_finished)
      status = code;
  }
  signals.on_signal({});
  node.reset();
  return status;
}

} // namespace metronome::launcher
