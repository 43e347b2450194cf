// The coordinator's side of inspect's `set`: the phases of a live change,
// who is waited for, the clock it takes effect from, and what is refused.

#include "actors/core/live_change.hpp"

#include <gtest/gtest.h>

using namespace metronome;
using json = nlohmann::ordered_json;
using actors::knob_setting;
using actors::live_change;
using actors::live_settings;

namespace {

// Every message a live_change sends, as "phase:actor".
struct sent_log {
  std::vector<std::string> sent;
  live_change change() {
    return live_change({"server/0", "server/1"},
                       {"worker/0", "worker/1", "worker/2"},
                       [this](const std::string& to, knob_setting k) {
                         sent.push_back(std::to_string(k.phase) + ":" + to);
                       });
  }
};

knob_setting phase(knob_setting k, int p) {
  k.phase = p;
  return k;
}

} // namespace

TEST(LiveChange, ABoundGoesToTheServersThenTheWorkersThenTheServers) {
  sent_log log;
  auto change = log.change();
  knob_setting k{7, "staleness", "all", 1, 0};
  change.begin(k);
  EXPECT_EQ(log.sent, (std::vector<std::string>{"1:server/0", "1:server/1"}));
  EXPECT_FALSE(change.answered("server/0", phase(k, 1), 0));
  // A worker's answer to phase 1, another change's and a repeat are ignored.
  EXPECT_FALSE(change.answered("worker/0", phase(k, 1), 0));
  auto other = k;
  other.id = 8;
  EXPECT_FALSE(change.answered("server/1", phase(other, 1), 0));
  EXPECT_FALSE(change.answered("server/0", phase(k, 1), 0));
  EXPECT_EQ(log.sent.size(), 2u);
  EXPECT_FALSE(change.answered("server/1", phase(k, 1), 0));
  EXPECT_EQ(log.sent.size(), 5u);
  EXPECT_EQ(log.sent[2], "2:worker/0");
  EXPECT_FALSE(change.answered("worker/1", phase(k, 2), 40));
  EXPECT_FALSE(change.answered("worker/0", phase(k, 2), 37));
  auto from = change.answered("worker/2", phase(k, 2), 39);
  ASSERT_TRUE(from);
  EXPECT_EQ(*from, 40);
  EXPECT_FALSE(change.busy());
  EXPECT_EQ(log.sent.back(), "3:server/1");
  EXPECT_EQ(change.clocks().size(), 3u);
}

TEST(LiveChange, ARateGoesToTheWorkersOnlyAndALostWorkerIsNotWaitedFor) {
  sent_log log;
  auto change = log.change();
  knob_setting k{1, "learning_rate", "", 0.05, 0};
  change.begin(k);
  EXPECT_EQ(log.sent, (std::vector<std::string>{"2:worker/0", "2:worker/1",
                                                "2:worker/2"}));
  EXPECT_FALSE(change.answered("worker/0", phase(k, 2), 12));
  EXPECT_FALSE(change.lost("worker/9"));
  EXPECT_FALSE(change.answered("worker/2", phase(k, 2), 14));
  auto from = change.lost("worker/1");
  ASSERT_TRUE(from);
  EXPECT_EQ(*from, 14);
  EXPECT_EQ(log.sent.size(), 3u) << "no server phase for a rate";
  // The next change does not wait for the lost worker either.
  change.begin({2, "learning_rate", "", 0.02, 0});
  EXPECT_EQ(log.sent.size(), 5u);
}

TEST(LiveSettings, RefusesWhatTheJobCannotHonourAndRecordsTheRest) {
  sent_log log;
  std::vector<json> records;
  std::vector<actors::table_layout> tables = {{"hidden", {0, 10}, "ssp", 3},
                                              {"output", {10, 12}, "bsp", 0}};
  live_settings settings(tables, 0.1f, log.change(),
                         [&](json r) { records.push_back(std::move(r)); });
  auto refused = [&](json request) {
    auto answer = settings.ask(request, 5);
    return answer.value("error", std::string());
  };
  EXPECT_EQ(refused({{"knob", "staleness"}, {"table", "x"}, {"value", 1}}),
            "no table 'x' in this job (tables: hidden, output)");
  EXPECT_NE(refused({{"knob", "staleness"}, {"table", "output"}, {"value", 2}})
                .find("buffers the updates of each clock"),
            std::string::npos);
  EXPECT_EQ(refused({{"knob", "staleness"}, {"table", "hidden"}, {"value", 3}}),
            "table hidden already has bound 3");
  EXPECT_EQ(refused({{"knob", "staleness"}, {"table", "hidden"}, {"value", 0}}),
            "a staleness bound is a whole number from 1 to 1000000");
  EXPECT_EQ(refused({{"knob", "learning_rate"}, {"value", 1e-300}})
                .rfind("a learning rate is a number above 0", 0),
            0u);
  EXPECT_EQ(refused({{"knob", "learning_rate"}, {"value", "fast"}}),
            "a learning rate is a number above 0 and at most 1000");
  EXPECT_TRUE(records.empty());
  EXPECT_EQ(refused({{"knob", "staleness"}, {"table", "hidden"}, {"value", 1}}),
            "");
  EXPECT_EQ(refused({{"knob", "learning_rate"}, {"value", 0.05}}),
            "the change of staleness to 1 is still being applied");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].value("state", ""), "asked");
  EXPECT_EQ(records[0].value("from", 0), 3);
  knob_setting k{1, "staleness", "hidden", 1, 1};
  settings.answered("server/0", k, 0);
  settings.answered("server/1", k, 0);
  k.phase = 2;
  settings.answered("worker/0", k, 8);
  settings.answered("worker/1", k, 9);
  EXPECT_TRUE(settings.answered("worker/2", k, 7));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].value("state", ""), "applied");
  EXPECT_EQ(records[1].value("clock", 0), 9);
  EXPECT_EQ(records[1]["clocks"].value("worker/2", 0), 7);
  EXPECT_EQ(settings.tables()[0].staleness, 1);
}
