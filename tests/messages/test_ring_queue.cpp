#include "messages/ring_queue.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <random>

using metronome::messages::ring_queue;

namespace {

// Random pushes at both ends and pops, checked against std::deque after
// every step, so the ring's growth is crossed with its head at every slot.
TEST(RingQueue, MatchesDequeUnderRandomOperations) {
  std::mt19937 gen(7);
  ring_queue<int> ring;
  std::deque<int> reference;
  for (int step = 0; step < 20000; ++step) {
    int op = static_cast<int>(gen() % 10);
    if (op < 4) {
      ring.push_back(step);
      reference.push_back(step);
    } else if (op < 5) {
      ring.push_front(-step);
      reference.push_front(-step);
    } else if (!reference.empty()) {
      ASSERT_EQ(ring.front(), reference.front()) << "step " << step;
      ring.pop_front();
      reference.pop_front();
    }
    ASSERT_EQ(ring.size(), reference.size()) << "step " << step;
    ASSERT_EQ(ring.empty(), reference.empty());
  }
  while (!reference.empty()) {
    ASSERT_EQ(ring.front(), reference.front());
    ring.pop_front();
    reference.pop_front();
  }
  EXPECT_TRUE(ring.empty());
}

// A popped element gives up what it owns at once, not when its slot is
// reused: a queued message's attachment must not outlive its sending.
TEST(RingQueue, PopAndClearReleaseElements) {
  auto owned = std::make_shared<int>(1);
  ring_queue<std::shared_ptr<int>> ring;
  ring.push_back(owned);
  ring.push_back(owned);
  ring.push_front(owned);
  EXPECT_EQ(owned.use_count(), 4);
  ring.pop_front();
  EXPECT_EQ(owned.use_count(), 3);
  ring.clear();
  EXPECT_EQ(owned.use_count(), 1);
  EXPECT_TRUE(ring.empty());
}

} // namespace
