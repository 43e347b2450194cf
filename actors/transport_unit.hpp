#pragma once

#include "messages/codec.hpp"
#include "messages/transport.hpp"

#include <caf/all.hpp>

#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <vector>

namespace metronome::actors {

/// Small inbound messages for one hosted actor, in the order they arrived,
/// delivered as one mailbox element (one enqueue and one dispatch for all).
struct inbound_batch {
  std::vector<messages::inbound_ptr> messages;
};

/// A handler of inbound_batch that calls `handle` on each message in order,
/// until one of them makes `self` quit.
template <class Handler>
auto batch_handler(caf::event_based_actor* self, Handler handle) {
  return [self, handle](const inbound_batch& batch) {
    for (const auto& msg : batch.messages) {
      if (!self->has_behavior())
        return;
      handle(msg);
    }
  };
}

/// An event-based actor that runs on the transport thread and on the
/// scheduler in turn (a hosted actor, see transport_unit).
///
/// Each resume acquires the thread hand-off first and releases it last
/// (messages/thread_handoff.hpp): CAF passes the actor between threads
/// with atomics in libcaf_core, which ThreadSanitizer cannot see, so it
/// would take the actor's state, written on one thread and read or freed
/// on the next, for a race. Outside TSan it is a plain event_based_actor.
class hosted_actor final : public caf::event_based_actor {
public:
  using init_fn = std::function<caf::behavior(caf::event_based_actor*)>;

  hosted_actor(caf::actor_config& cfg, init_fn init);

  caf::behavior make_behavior() override;
  resume_result resume(caf::execution_unit* unit, size_t max) override;

private:
  init_fn init_;
};

} // namespace metronome::actors

// Inbound messages travel between threads of one process only.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(metronome::messages::inbound_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(metronome::actors::inbound_batch)

namespace metronome::actors {

/// A CAF execution unit on a node's transport thread: the actors it hosts
/// run their handlers there, between the transport's polls.
///
/// A message from the network then reaches a hosted actor, and its replies
/// reach the sockets, without waking another thread (two wake-ups fewer on
/// each hop; docs/benchmarks.md, "What limits the small round trip"). Only
/// actors whose handlers are short, or that are alone on their node (a
/// worker computing its iteration), belong here: while one runs, the node's
/// sockets and heartbeats wait. A hosted actor that other threads wake (its
/// timers, messages from actors on the scheduler) runs on the scheduler as
/// before; CAF's mailbox keeps it on one thread at a time.
class transport_unit final : public caf::execution_unit,
                             public messages::thread_guest {
public:
  explicit transport_unit(caf::actor_system& sys);
  ~transport_unit() override;

  /// How long a hosted actor's turns are: short (a server answering), or
  /// long (a worker computing its iteration).
  enum class turns { short_ones = 0, long_ones = 1 };

  /// Runs `a` (called `name` in log lines) here whenever a message this
  /// unit delivers wakes it; call before the transport starts. `a` must
  /// handle inbound_batch as well as inbound_ptr: small messages reach it
  /// in batches. Of the actors ready at once, those with short turns run
  /// first, so that a long turn delays no reply they would send. A turn of
  /// `a` that holds the thread longer than a second (when peers start to
  /// find the node's heartbeats late) is logged once.
  void host(caf::actor a, std::string name, turns length = turns::short_ones);

  /// Puts `msg` in `target`'s mailbox from the transport thread; a hosted
  /// actor it wakes runs here, any other on the scheduler. Consecutive small
  /// messages for one hosted actor wait, until the next run_pending() or a
  /// full batch, to go in as one inbound_batch.
  void deliver(const caf::actor& target, messages::inbound_ptr msg);

  void exec_later(caf::resumable* job) override;
  bool run_pending(const std::function<void()>& after_turn) override;
  void hand_off() override;

private:
  bool is_hosted(const caf::actor& a) const;
  void run_turn(caf::resumable* job);
  void enqueue(const caf::actor& target, caf::message msg);
  void flush_batch();

  struct guest {
    caf::actor actor;
    const caf::resumable* job;
    std::string name;
    turns length;
    bool warned_long_turn = false;
  };

  guest* find(const caf::resumable* job);
  void warn_if_long(const caf::resumable* job,
                    std::chrono::steady_clock::duration took);

  std::vector<guest> hosted_;
  // Hosted jobs woken and not yet run: those with short turns, then long.
  std::array<std::deque<caf::resumable*>, 2> ready_;
  bool handed_off_ = false;
  caf::actor batch_target_;
  inbound_batch batch_;
};

} // namespace metronome::actors
