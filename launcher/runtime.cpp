#include "launcher/runtime.hpp"

#include "actors/node.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <ctime>
#include <thread>

namespace metronome::launcher {

namespace {

// Blocks SIGINT and SIGTERM in this and every later thread, and turns them
// into a call of `on_stop` on a dedicated thread.
class signal_watch {
public:
  template <class F>
  explicit signal_watch(F on_stop) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    thread_ = std::thread([this, on_stop] {
      timespec timeout{0, 100'000'000};
      while (!done_) {
        int sig = sigtimedwait(&set_, nullptr, &timeout);
        if (sig > 0)
          on_stop(sig);
      }
    });
  }
  ~signal_watch() {
    done_ = true;
    thread_.join();
  }

private:
  sigset_t set_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

} // namespace

int run_in_process(const actors::topology& topo) {
  std::vector<std::unique_ptr<actors::node>> nodes;
  caf::actor_system_config cfg;
  actors::configure_actor_system(cfg);
  caf::actor_system sys{cfg};
  zmq::context_t ctx;
  int status = 0;
  {
    signal_watch signals([&](int sig) {
      for (auto& n : nodes)
        n->abort(strsignal(sig));
    });
    try {
      for (const auto& spec : topo.nodes)
        nodes.push_back(std::make_unique<actors::node>(
            sys, ctx, topo, spec.name, actors::endpoint_mode::inproc));
      for (auto& n : nodes)
        n->start();
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      status = 1;
      for (auto& n : nodes)
        n->abort("start-up failed");
    }
    for (auto& n : nodes)
      status |= n->wait();
  }
  nodes.clear();
  return status;
}

int run_node(const actors::topology& topo, const std::string& name) {
  caf::actor_system_config cfg;
  actors::configure_actor_system(cfg);
  caf::actor_system sys{cfg};
  zmq::context_t ctx;
  std::unique_ptr<actors::node> node;
  int status = 0;
  {
    std::atomic<actors::node*> running{nullptr};
    signal_watch signals([&](int sig) {
      if (auto* n = running.load())
        n->abort(strsignal(sig));
    });
    try {
      node = std::make_unique<actors::node>(sys, ctx, topo, name,
                                            actors::endpoint_mode::tcp);
      node->start();
      running = node.get();
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      if (node)
        node->abort("start-up failed");
      status = 1;
    }
    if (node)
      status |= node->wait();
    running = nullptr;
  }
  node.reset();
  return status;
}

} // namespace metronome::launcher
