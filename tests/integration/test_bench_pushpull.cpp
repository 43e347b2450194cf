// `metronome bench pushpull` through the real binary: every push either
// side sends is applied by its server.

#include "tests/integration/jobs_support.hpp"

#include "actors/core/job_records.hpp"

#include <gtest/gtest.h>

#include <string>

namespace metronome::test {
namespace {

TEST(BenchPushPull, EveryPushIsAppliedOnBothSides) {
  for (std::string server_thread : {"transport", "scheduler"}) {
    SCOPED_TRACE(server_thread);
    auto r = run(binary() + " bench pushpull --json --seconds 0.2 --repeat 1" +
                 " --server-thread " + server_thread);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    auto out = json_line(r.output);
    ASSERT_TRUE(out.is_object()) << r.output;
    EXPECT_EQ(out.value("server_thread", ""), server_thread);
    for (const char* side : {"metronome", "raw_zmq"}) {
      SCOPED_TRACE(side);
      auto sent = out.at("pushes_sent").at(side).get<std::uint64_t>();
      auto applied = out.at("pushes_applied").at(side).get<std::uint64_t>();
      // At least one dense push and one batch of 4096 pipelined pushes.
      EXPECT_GT(sent, 4096u);
      EXPECT_EQ(applied, sent);
    }
    EXPECT_GT(
        out.at("dense_pushpull_1M_f32_GBps").at("metronome").get<double>(), 0);
  }
}

} // namespace
} // namespace metronome::test
