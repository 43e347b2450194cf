// The execution unit that runs hosted actors on a node's transport thread:
// which thread runs a handler, in which order, and what happens to pending
// work when the transport thread ends.

#include "actors/node.hpp"
#include "actors/transport_unit.hpp"

#include "tests/messages/log_capture.hpp"
#include "tests/messages/message_test_util.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace metronome::actors {
namespace {

using messages::test::make_clock;
using messages::test::make_header;
using messages::test::verify_outbound;

// What a recorder saw: each message's sequence number and the thread that
// handled it.
struct handled_log {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::uint64_t> seqs;
  std::vector<std::thread::id> threads;
  std::size_t batches = 0; // mailbox elements that held several messages

  bool wait_for(std::size_t n) {
    std::unique_lock<std::mutex> lock(mutex);
    return changed.wait_for(lock, std::chrono::seconds(30),
                            [&] { return seqs.size() >= n; });
  }
};

// Quits at the message with sequence number `quit_at`.
caf::behavior recorder(caf::event_based_actor* self,
                       std::shared_ptr<handled_log> log,
                       std::uint64_t quit_at) {
  auto record = [self, log, quit_at](const messages::inbound_ptr& msg) {
    std::lock_guard<std::mutex> lock(log->mutex);
    log->seqs.push_back(msg->header().seq());
    log->threads.push_back(std::this_thread::get_id());
    log->changed.notify_all();
    if (msg->header().seq() == quit_at)
      self->quit();
  };
  auto batch = batch_handler(self, record);
  return {record, [log, batch](const inbound_batch& b) {
            {
              std::lock_guard<std::mutex> lock(log->mutex);
              ++log->batches;
            }
            batch(b);
          }};
}

messages::inbound_ptr clock_message(std::uint64_t seq) {
  auto v =
      verify_outbound(make_clock(make_header("worker/0", "server/0", seq)));
  return messages::inbound_ptr(std::move(v.msg));
}

// The scheduler a node runs (under ThreadSanitizer one thread, whose
// hand-offs TSan can follow).
struct node_config : caf::actor_system_config {
  node_config() { configure_actor_system(*this); }
};

class TransportUnit : public ::testing::Test {
protected:
  node_config cfg_;
  caf::actor_system sys_{cfg_};
  std::shared_ptr<handled_log> log_ = std::make_shared<handled_log>();
  // Lazily initialised, so that its first run is the first message's: an
  // actor still starting on the scheduler would take its first messages
  // there.
  caf::actor actor_ = sys_.spawn<caf::lazy_init>(recorder, log_, 1000000);
  std::unique_ptr<transport_unit> unit_ =
      std::make_unique<transport_unit>(sys_);

  void deliver(std::uint64_t first, std::uint64_t count) {
    for (auto seq = first; seq < first + count; ++seq)
      unit_->deliver(actor_, clock_message(seq));
  }

  void TearDown() override {
    unit_.reset();
    caf::anon_send_exit(actor_, caf::exit_reason::user_shutdown);
  }
};

TEST_F(TransportUnit, AHostedActorRunsOnlyWhenItsThreadRunsPendingWork) {
  unit_->host(actor_, "probe/0");
  deliver(1, 3);
  {
    std::lock_guard<std::mutex> lock(log_->mutex);
    EXPECT_TRUE(log_->seqs.empty()) << "a scheduler thread ran the actor";
  }
  EXPECT_FALSE(unit_->run_pending({}));
  ASSERT_EQ(log_->seqs, (std::vector<std::uint64_t>{1, 2, 3}));
  for (auto id : log_->threads)
    EXPECT_EQ(id, std::this_thread::get_id());
}

// A worker's turn (long) woken before a server's (short) runs after it,
// and the transport gets to send after each turn: a reply the server posts
// does not wait for the worker's computation.
TEST_F(TransportUnit, ShortTurnsRunFirstAndEachTurnIsFollowedBySending) {
  auto server = sys_.spawn<caf::lazy_init>(recorder, log_, 1000000);
  unit_->host(actor_, "worker/0", transport_unit::turns::long_ones);
  unit_->host(server, "server/0");
  deliver(100, 1);
  unit_->deliver(server, clock_message(200));
  std::vector<std::size_t> handled_at_send;
  EXPECT_FALSE(unit_->run_pending([&] {
    std::lock_guard<std::mutex> lock(log_->mutex);
    handled_at_send.push_back(log_->seqs.size());
  }));
  EXPECT_EQ(log_->seqs, (std::vector<std::uint64_t>{200, 100}));
  EXPECT_EQ(handled_at_send, (std::vector<std::size_t>{1, 2}));
  caf::anon_send_exit(server, caf::exit_reason::user_shutdown);
}

TEST_F(TransportUnit, ALongMailboxIsHandledInBoundedTurnsAndInOrder) {
  unit_->host(actor_, "probe/0");
  deliver(0, 2000);
  std::size_t turns = 0;
  while (unit_->run_pending({}))
    ++turns;
  EXPECT_GE(turns, 2u) << "one turn handled 2000 messages";
  ASSERT_EQ(log_->seqs.size(), 2000u);
  for (std::uint64_t i = 0; i < 2000; ++i)
    EXPECT_EQ(log_->seqs[i], i);
}

TEST_F(TransportUnit, SmallMessagesReachAHostedActorInBatches) {
  unit_->host(actor_, "probe/0");
  deliver(0, 40);
  EXPECT_FALSE(unit_->run_pending({}));
  ASSERT_EQ(log_->seqs.size(), 40u);
  EXPECT_GE(log_->batches, 1u);
  EXPECT_LT(log_->batches, 40u);
}

TEST_F(TransportUnit, ALargeMessageKeepsItsPlaceBehindAPendingBatch) {
  unit_->host(actor_, "probe/0");
  deliver(0, 2);
  auto large = verify_outbound(messages::test::make_push(
      make_header("worker/0", "server/0", 2), 0, std::vector<float>(2000)));
  ASSERT_GT(large.msg->wire_bytes(), 4096u);
  unit_->deliver(actor_, messages::inbound_ptr(std::move(large.msg)));
  deliver(3, 2);
  EXPECT_FALSE(unit_->run_pending({}));
  EXPECT_EQ(log_->seqs, (std::vector<std::uint64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(log_->batches, 2u);
}

TEST_F(TransportUnit, ABatchStopsAtTheMessageThatMadeTheActorQuit) {
  auto quitter = sys_.spawn<caf::lazy_init>(recorder, log_, 5);
  unit_->host(quitter, "quitter/0");
  for (std::uint64_t seq = 0; seq < 12; ++seq)
    unit_->deliver(quitter, clock_message(seq));
  unit_->run_pending({});
  EXPECT_EQ(log_->seqs, (std::vector<std::uint64_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(log_->batches, 1u);
}

// A turn past a second (here one handler that sleeps that long) is said
// once, naming the actor and the option that moves it.
TEST_F(TransportUnit, ATurnThatHoldsTheThreadPastASecondIsLoggedOnce) {
  test::log_capture logs;
  // (An argument, since CAF 0.17 dereferences a null pointer to the
  // arguments of a functor spawned with none.)
  auto sleeper = sys_.spawn<caf::lazy_init>(
      [](caf::event_based_actor*, int sleep_ms) {
        return caf::behavior{[sleep_ms](const messages::inbound_ptr&) {
                               std::this_thread::sleep_for(
                                   std::chrono::milliseconds(sleep_ms));
                             },
                             [](const inbound_batch&) {}};
      },
      1100);
  unit_->host(sleeper, "worker/3");
  for (std::uint64_t seq = 0; seq < 2; ++seq) {
    unit_->deliver(sleeper, clock_message(seq));
    unit_->run_pending({});
  }
  auto lines = logs.matching("worker/3 ran ");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("options.worker_thread: scheduler"),
            std::string::npos)
      << lines[0];
  caf::anon_send_exit(sleeper, caf::exit_reason::user_shutdown);
}

TEST_F(TransportUnit, AnActorItDoesNotHostRunsOnTheScheduler) {
  deliver(7, 1);
  EXPECT_FALSE(unit_->run_pending({}));
  ASSERT_TRUE(log_->wait_for(1));
  EXPECT_EQ(log_->seqs, (std::vector<std::uint64_t>{7}));
  EXPECT_NE(log_->threads[0], std::this_thread::get_id());
}

TEST_F(TransportUnit, HandOffGivesPendingAndLaterWorkToTheScheduler) {
  unit_->host(actor_, "probe/0");
  deliver(1, 2);
  unit_->hand_off();
  deliver(3, 1);
  EXPECT_FALSE(unit_->run_pending({}));
  ASSERT_TRUE(log_->wait_for(3));
  EXPECT_EQ(log_->seqs, (std::vector<std::uint64_t>{1, 2, 3}));
  for (auto id : log_->threads)
    EXPECT_NE(id, std::this_thread::get_id());
}

// Which actors a node runs on its transport thread.
TEST(RunsOnTransport, ServersByOptionAndDataParallelWorkersAloneOrUnderBsp) {
  topology topo;
  topo.job.algorithm = "mlp";
  node_spec alone{"w0", "127.0.0.1", 1, {"worker/0"}};
  node_spec shared{"w1", "127.0.0.1", 2, {"worker/1", "server/0"}};
  node_spec two{"w2", "127.0.0.1", 3, {"worker/2", "worker/3"}};
  EXPECT_TRUE(runs_on_transport(topo, alone, "worker"));
  EXPECT_TRUE(runs_on_transport(topo, shared, "worker"));
  EXPECT_TRUE(runs_on_transport(topo, shared, "server"));
  EXPECT_FALSE(runs_on_transport(topo, two, "worker"));
  // Under SSP (here on one table) a server beside a computing worker could
  // answer reads meanwhile: the worker moves to the scheduler.
  topo.job.tables = {{"hidden", "bsp", 0}, {"output", "ssp", 2}};
  EXPECT_FALSE(runs_on_transport(topo, shared, "worker"));
  EXPECT_TRUE(runs_on_transport(topo, alone, "worker"));
  topo.job.tables.clear();
  topo.job.consistency = "cutoff";
  EXPECT_FALSE(runs_on_transport(topo, shared, "worker"));
  topo.job.consistency = "bsp";
  EXPECT_FALSE(runs_on_transport(topo, alone, "coordinator"));
  topo.options.worker_thread = "scheduler";
  EXPECT_FALSE(runs_on_transport(topo, alone, "worker"));
  topo.options.worker_thread = "transport";
  topo.options.server_thread = "scheduler";
  EXPECT_FALSE(runs_on_transport(topo, shared, "server"));
  // A scheduled job's workers compute whole rounds: always the scheduler.
  topo.job.algorithm = "lasso";
  EXPECT_FALSE(runs_on_transport(topo, alone, "worker"));
}

} // namespace
} // namespace metronome::actors
