#include "actors/transport_unit.hpp"

#include "messages/thread_handoff.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace metronome::actors {

namespace {

// Mailbox elements (single messages or batches) a hosted actor handles
// before the transport polls again.
constexpr std::size_t elements_per_turn = 16;
// A batch holds at most this many messages of at most this many bytes
// each, so that a turn stays short (at most 256 small messages).
constexpr std::size_t batch_messages = 16;
constexpr std::size_t batch_message_bytes = 4096;
// A turn this long holds the node's heartbeats as long: peers take a node
// for suspect after four missed 250 ms heartbeats.
constexpr std::chrono::seconds long_turn{1};

const caf::resumable* job_of(const caf::actor& a) {
  return dynamic_cast<const caf::resumable*>(
      caf::actor_cast<caf::abstract_actor*>(a));
}

} // namespace

transport_unit::transport_unit(caf::actor_system& sys)
    : caf::execution_unit(&sys) {}

transport_unit::~transport_unit() {
  hand_off();
}

void transport_unit::host(caf::actor a, std::string name, turns length) {
  auto* job = job_of(a);
  hosted_.push_back({std::move(a), job, std::move(name), length});
}

transport_unit::guest* transport_unit::find(const caf::resumable* job) {
  for (auto& g : hosted_)
    if (g.job == job)
      return &g;
  return nullptr;
}

bool transport_unit::is_hosted(const caf::actor& a) const {
  return std::any_of(hosted_.begin(), hosted_.end(),
                     [&](const guest& g) { return g.actor == a; });
}

void transport_unit::deliver(const caf::actor& target,
                             messages::inbound_ptr msg) {
  bool batched = !handed_off_ && msg->wire_bytes() <= batch_message_bytes &&
                 is_hosted(target);
  // Whatever does not join the pending batch goes in after it.
  if (!batched || target != batch_target_)
    flush_batch();
  if (!batched) {
    enqueue(target, caf::make_message(std::move(msg)));
    return;
  }
  batch_target_ = target;
  batch_.messages.push_back(std::move(msg));
  if (batch_.messages.size() == batch_messages)
    flush_batch();
}

void transport_unit::enqueue(const caf::actor& target, caf::message msg) {
  auto* dest = caf::actor_cast<caf::abstract_actor*>(target);
  auto element = caf::make_mailbox_element(nullptr, caf::make_message_id(), {},
                                           std::move(msg));
  // The element itself is written here, after the transport's hand-off.
  messages::release_handoff();
  dest->enqueue(std::move(element), this);
}

void transport_unit::flush_batch() {
  if (batch_.messages.empty())
    return;
  if (batch_.messages.size() == 1)
    enqueue(batch_target_,
            caf::make_message(std::move(batch_.messages.front())));
  else
    enqueue(batch_target_, caf::make_message(std::move(batch_)));
  batch_target_ = nullptr;
  batch_.messages.clear();
  batch_.messages.reserve(batch_messages);
}

void transport_unit::exec_later(caf::resumable* job) {
  const auto* g = handed_off_ ? nullptr : find(job);
  if (g != nullptr)
    ready_[static_cast<std::size_t>(g->length)].push_back(job);
  else
    system().scheduler().enqueue(job);
}

bool transport_unit::run_pending(const std::function<void()>& after_turn) {
  flush_batch();
  // Short turns first, so that no reply waits for a worker's iteration.
  for (auto& ready : ready_)
    for (auto n = ready.size(); n > 0 && !ready.empty(); --n) {
      auto* job = ready.front();
      ready.pop_front();
      run_turn(job);
      if (after_turn)
        after_turn();
    }
  return !ready_[0].empty() || !ready_[1].empty();
}

void transport_unit::run_turn(caf::resumable* job) {
  auto started = std::chrono::steady_clock::now();
  // The reference CAF took when it scheduled the job is ours until the
  // job waits for messages, ends, or goes back in the queue.
  auto result = job->resume(this, elements_per_turn);
  warn_if_long(job, std::chrono::steady_clock::now() - started);
  if (result == caf::resumable::resume_later)
    ready_[static_cast<std::size_t>(find(job)->length)].push_back(job);
  else
    intrusive_ptr_release(job);
}

void transport_unit::warn_if_long(const caf::resumable* job,
                                  std::chrono::steady_clock::duration took) {
  auto* g = find(job);
  if (took < long_turn || g == nullptr || g->warned_long_turn)
    return;
  g->warned_long_turn = true;
  auto role = g->name.substr(0, g->name.find('/'));
  spdlog::warn("{} ran {:.1f} s on its node's transport thread, which held "
               "the node's heartbeats as long; if its handlers run this "
               "long, set options.{}_thread: scheduler (said once)",
               g->name, std::chrono::duration<double>(took).count(), role);
}

hosted_actor::hosted_actor(caf::actor_config& cfg, init_fn init)
    : caf::event_based_actor(cfg)
    , init_(std::move(init)) {}

caf::behavior hosted_actor::make_behavior() {
  return init_(this);
}

caf::resumable::resume_result hosted_actor::resume(caf::execution_unit* unit,
                                                   size_t max) {
  messages::acquire_handoff();
  auto result = caf::event_based_actor::resume(unit, max);
  messages::release_handoff();
  return result;
}

void transport_unit::hand_off() {
  flush_batch();
  handed_off_ = true;
  for (auto& ready : ready_) {
    for (auto* job : ready)
      system().scheduler().enqueue(job);
    ready.clear();
  }
}

} // namespace metronome::actors
