// The launcher and node start-up: supervision, signals, identity from
// cluster managers, plans, and a job across two network namespaces.

#include "tests/integration/jobs_support.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <random>

using namespace metronome;
using test::background;
using test::exit_code;
using test::job_settings;
using test::temp_dir;

namespace {

job_settings long_job() {
  job_settings s;
  s.workers = 2;
  s.servers = 1;
  s.train_limit = 60000;
  s.epochs = 50;
  return s;
}

class Launch : public test::needs_fashion_mnist {};

} // namespace

TEST_F(Launch, SigintStopsEveryNodeWithinTheGracePeriod) {
  temp_dir dir;
  auto cfg = (dir / "job.yaml").string();
  test::write_file(cfg, test::topology(long_job(), dir));
  auto pid_file = dir / "launcher.pid";
  auto rc = background("sh -c 'echo $$ > " + pid_file.string() + "; exec " +
                           test::binary() + " launch " + cfg + "'",
                       dir, "launch");
  ASSERT_TRUE(test::wait_for(
      [&] { return test::file_has(dir / "launch.log", "job started"); }));
  std::ifstream in(pid_file);
  pid_t pid = 0;
  in >> pid;
  ASSERT_GT(pid, 0);
  auto sent = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  // Nodes get 5 s after SIGTERM before they are killed; allow that and more.
  ASSERT_TRUE(test::wait_for([&] { return std::filesystem::exists(rc); }, 20))
      << "launcher still running 20 s after SIGINT";
  EXPECT_LT(std::chrono::steady_clock::now() - sent, std::chrono::seconds(20));
  EXPECT_NE(exit_code(rc), 0);
  EXPECT_TRUE(test::file_has(dir / "launch.log", "stopping every node"));
  // Stopped in order, not killed: the nodes saw the request themselves.
  // Either its own signal or the coordinator's abort got there first.
  auto log = dir / "launch.log";
  EXPECT_TRUE(test::file_has(log, "w0: stopping: ") ||
              test::file_has(log, "on node w0 stopped"))
      << "nodes did not stop gracefully";
  EXPECT_FALSE(test::file_has(dir / "launch.log", "killing it"));
  EXPECT_EQ(test::processes_mentioning(cfg), "");
}

// A node that fails by itself is named with its status and last output;
// the nodes stopped because of it are not blamed.
TEST_F(Launch, FailedNodeIsReportedWithItsLastOutput) {
  temp_dir dir;
  auto cfg = (dir / "job.yaml").string();
  auto text = test::topology(long_job(), dir);
  // The coordinator cannot create its metrics directory under /proc.
  auto at = text.find("  metrics_dir: ");
  text.replace(at, text.find('\n', at) - at,
               "  metrics_dir: /proc/metronome-no-such-dir");
  test::write_file(cfg, text);
  auto r = test::run(test::binary() + " launch --no-progress " + cfg);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("node head on 127.0.0.1 failed (exit status 1)"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("Its last output:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("  | "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("coordinator/0: cannot start"), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("failed (signal"), std::string::npos)
      << "a node crashed while stopping:\n"
      << r.output;
  for (std::string other : {"s0", "w0", "w1"})
    EXPECT_EQ(r.output.find("node " + other + " on 127.0.0.1 failed"),
              std::string::npos)
        << r.output;
  EXPECT_EQ(test::processes_mentioning(cfg), "");
}

// A worker stopped with SIGSTOP: its peers take it for dead and the job
// stops; launch names the stopped node, not a node that stopped because
// of it.
TEST_F(Launch, AStoppedNodeIsNamedAsTheCause) {
  temp_dir dir;
  auto cfg = (dir / "job.yaml").string();
  test::write_file(cfg, test::topology(long_job(), dir));
  auto rc = background(test::binary() + " launch --no-progress " + cfg, dir,
                       "launch");
  ASSERT_TRUE(test::wait_for(
      [&] { return test::file_has(dir / "launch.log", "job started"); }));
  auto found = test::run("pgrep -f -- '^[^ ]*metronome node --topology " + cfg +
                         " --name w1( |$)'");
  pid_t pid = std::atoi(found.output.c_str());
  ASSERT_GT(pid, 0) << found.output;
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  // Peers call a node dead after 10 s of silence; then every node stops.
  ASSERT_TRUE(test::wait_for([&] { return std::filesystem::exists(rc); }, 60))
      << "launch still running a minute after a node was stopped";
  auto log = test::run("cat " + (dir / "launch.log").string()).output;
  EXPECT_NE(exit_code(rc), 0) << log;
  EXPECT_NE(log.find("launch: node w1 on 127.0.0.1 is stopped ("),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("launch: node w1 on 127.0.0.1 was stopped ("),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("stopped by itself"), std::string::npos) << log;
  EXPECT_EQ(test::processes_mentioning(cfg), "");
}

TEST_F(Launch, DryRunPrintsThePlanAndStartsNothing) {
  temp_dir dir;
  auto cfg = (dir / "job.yaml").string();
  test::write_file(cfg, test::topology(job_settings{}, dir));
  auto r = test::run(test::binary() + " launch --dry-run " + cfg);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (std::string node : {"head", "s0", "s1", "w0", "w1", "w2"})
    EXPECT_NE(r.output.find("node " + node +
                            " on 127.0.0.1 (local): " + test::binary() +
                            " node --topology " + cfg + " --name " + node),
              std::string::npos)
        << r.output;
  EXPECT_EQ(r.output.find("launched"), std::string::npos);
  EXPECT_EQ(test::processes_mentioning(cfg), "");
}

// srun and mpirun start the same command everywhere; each process finds its
// node from its rank.
TEST_F(Launch, NodesTakeTheirIdentityFromSlurmOrMpiRanks) {
  for (std::string var : {"SLURM_PROCID", "OMPI_COMM_WORLD_RANK"}) {
    temp_dir dir;
    job_settings s;
    s.iterations = 10;
    auto cfg = (dir / "job.yaml").string();
    test::write_file(cfg, test::topology(s, dir));
    std::vector<std::filesystem::path> codes;
    for (int rank = 0; rank < 6; ++rank)
      codes.push_back(background(var + "=" + std::to_string(rank) + " " +
                                     test::binary() + " node --topology " + cfg,
                                 dir, "rank" + std::to_string(rank)));
    for (const auto& rc : codes) {
      ASSERT_TRUE(test::wait_for([&] { return std::filesystem::exists(rc); }))
          << var;
      EXPECT_EQ(exit_code(rc), 0) << var << " " << rc;
    }
    std::ifstream log(dir / "rank0.log");
    std::string output((std::istreambuf_iterator<char>(log)), {});
    EXPECT_TRUE(test::final_line(output).contains("final_test_accuracy"))
        << var << ": rank 0 should be the coordinator's node\n"
        << output;
  }
}

TEST_F(Launch, BadIdentityIsAClearError) {
  temp_dir dir;
  auto cfg = (dir / "job.yaml").string();
  test::write_file(cfg, test::topology(job_settings{}, dir));
  auto r = test::run("SLURM_PROCID=99 " + test::binary() + " node -t " + cfg);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("SLURM_PROCID=99 is not an index into the 6 nodes"),
            std::string::npos)
      << r.output;
  r = test::run("METRONOME_NODE=nosuch " + test::binary() + " node -t " + cfg);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("no node named 'nosuch' (from METRONOME_NODE)"),
            std::string::npos)
      << r.output;
  r = test::run("env -u SLURM_PROCID -u OMPI_COMM_WORLD_RANK -u "
                "METRONOME_NODE " +
                test::binary() + " node -t " + cfg);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("which node?"), std::string::npos) << r.output;
}

TEST_F(Launch, ANodeWithoutPeersSaysWhomItWaitsFor) {
  temp_dir dir;
  job_settings s;
  s.servers = 1;
  s.workers = 1;
  auto cfg = (dir / "job.yaml").string();
  test::write_file(cfg, test::topology(s, dir));
  auto r = test::run("timeout -s TERM 12 " + test::binary() +
                     " node --topology " + cfg + " --name w0");
  auto expected = "w0: still waiting for node head at tcp://127.0.0.1:";
  EXPECT_NE(r.output.find(expected), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("w0: still waiting for node s0 at tcp://"),
            std::string::npos)
      << r.output;
}

// Two hosts: two network namespaces joined by a veth pair, each running one
// node; `launch` reaches them through `ip netns exec` as its remote command.
TEST_F(Launch, JobAcrossTwoNetworkNamespaces) {
  if (::geteuid() != 0)
    GTEST_SKIP() << "needs root to create network namespaces";
  std::random_device entropy;
  auto tag = std::to_string(entropy() % 200 + 20);
  std::string a = "10.213." + tag + ".1", b = "10.213." + tag + ".2";
  std::string ns_a = "mtr-" + a, ns_b = "mtr-" + b;
  std::string veth_a = "mtra" + tag, veth_b = "mtrb" + tag;
  auto setup = test::run(
      "set -e; ip netns add " + ns_a + "; ip netns add " + ns_b +
      "; ip link add " + veth_a + " type veth peer name " + veth_b +
      "; ip link set " + veth_a + " netns " + ns_a + "; ip link set " + veth_b +
      " netns " + ns_b + "; ip -n " + ns_a + " addr add " + a + "/24 dev " +
      veth_a + "; ip -n " + ns_b + " addr add " + b + "/24 dev " + veth_b +
      "; for ns in " + ns_a + " " + ns_b +
      "; do ip -n $ns link set lo up; done; ip -n " + ns_a + " link set " +
      veth_a + " up; ip -n " + ns_b + " link set " + veth_b + " up");
  if (setup.exit_code != 0) {
    // Remove only what this attempt made; a name that existed is not ours.
    if (setup.output.find("File exists") == std::string::npos)
      test::run("ip netns del " + ns_a + " 2>/dev/null; ip netns del " + ns_b +
                " 2>/dev/null");
    GTEST_SKIP() << "cannot create network namespaces here: " << setup.output;
  }
  struct cleanup {
    std::string cmd;
    ~cleanup() { test::run(cmd); }
  } remove{"ip netns del " + ns_a + "; ip netns del " + ns_b};
  temp_dir dir;
  job_settings s;
  s.iterations = 30;
  auto job = test::job_yaml(s, dir);
  auto nodes = "cluster:\n  nodes:\n    - name: a\n      host: " + a +
               "\n      port: 47311\n      roles: [coordinator/0, server/0, "
               "worker/0]\n    - name: b\n      host: " +
               b +
               "\n      port: 47312\n      roles: [server/1, worker/1, "
               "worker/2]\n";
  auto options = job.substr(job.find("options:\n") + 9);
  job = job.substr(0, job.find("options:\n"));
  auto cfg = (dir / "job.yaml").string();
  test::write_file(cfg, nodes + job +
                            "options:\n  remote_command: ip netns "
                            "exec mtr-{host}\n" +
                            options);
  auto r = test::run(test::binary() + " launch --no-progress " + cfg);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("launched 2 node processes (0 local)"),
            std::string::npos)
      << r.output;
  EXPECT_GT(test::final_accuracy(r.output), 0.5) << r.output;
  EXPECT_EQ(test::processes_mentioning(cfg), "");
}
