#pragma once

// What the tests of `metronome inspect` share: jobs slow enough to look at,
// running inspect and reading its JSON, and a fixture that launches a job
// and stops every node of it afterwards.

#include "tests/integration/jobs_support.hpp"

#include <gtest/gtest.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <signal.h>

#include <fstream>
#include <sstream>

namespace metronome::test {

// A job long enough to look at: every iteration waits about 18 ms more.
inline job_settings slow_job(std::size_t iterations) {
  job_settings s;
  s.iterations = iterations;
  s.job_extra = "  stragglers:\n    - model: lognormal\n      mu: -4\n"
                "      sigma: 0.1\n";
  return s;
}

// The pid of the process running node `node` of topology `cfg`, or 0.
inline pid_t node_pid(const std::string& cfg, const std::string& node) {
  // The node itself, not the shell that started it in the background.
  auto r = test::run("pgrep -f -- '^[^ ]*metronome node --topology " + cfg +
                     " --name " + node + "( |$)'");
  std::istringstream in(r.output);
  pid_t pid = 0;
  in >> pid;
  return pid;
}

// Every JSON object printed on its own line of `output`.
inline std::vector<actors::json> json_lines(const std::string& output) {
  std::vector<actors::json> out;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] == '{')
      out.push_back(actors::json::parse(line, nullptr, false));
  return out;
}

inline std::string inspect(const std::string& target,
                           const std::string& commands,
                           const std::string& flags = "--json --timeout 2") {
  return test::binary() + " inspect " + target + " " + flags + " --exec '" +
         commands + "'";
}

// The control port of node `name` in topology text `yaml`.
inline std::string control_port(const std::string& yaml,
                                const std::string& name) {
  auto at = yaml.find("- name: " + name + "\n");
  auto p = yaml.find("control_port: ", at) + 14;
  return yaml.substr(p, yaml.find('\n', p) - p);
}

// Sends `request` to a control endpoint as a REQ-style DEALER and returns
// the reply, or "" when none comes within two seconds.
inline std::string ask_raw(zmq::context_t& ctx, const std::string& endpoint,
                           const std::string& request) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.connect(endpoint);
  s.send(zmq::message_t(), zmq::send_flags::sndmore);
  s.send(zmq::buffer(request));
  std::vector<zmq::pollitem_t> items = {{s.handle(), 0, ZMQ_POLLIN, 0}};
  zmq::poll(items, std::chrono::milliseconds(2000));
  if (!(items[0].revents & ZMQ_POLLIN))
    return {};
  std::vector<zmq::message_t> parts;
  if (!zmq::recv_multipart(s, std::back_inserter(parts)) || parts.empty())
    return {};
  return parts.back().to_string();
}

// Whether `text` begins with `prefix` (both shown when not).
inline ::testing::AssertionResult begins(const std::string& text,
                                         const std::string& prefix) {
  if (text.compare(0, prefix.size(), prefix) == 0)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "'" << text << "' does not begin with '" << prefix << "'";
}

// The lines of file `path` that are JSON objects.
inline std::vector<actors::json> json_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  return json_lines(std::string((std::istreambuf_iterator<char>(in)), {}));
}

class Inspect : public needs_fashion_mnist {
protected:
  // Launches `s` (with `options`, more lines of the options section) and
  // waits until the job has started.
  void launch(const job_settings& s, const std::string& options = "") {
    cfg_ = (dir_ / "job.yaml").string();
    yaml_ = test::topology(s, dir_) + options;
    test::write_file(cfg_, yaml_);
    rc_ = background(test::binary() + " launch --no-progress " + cfg_, dir_,
                     "launch");
    // Six processes loading Fashion-MNIST under the sanitizers, beside other
    // tests, can take minutes on two cores.
    ASSERT_TRUE(test::wait_for(
        [&] { return test::file_has(dir_ / "launch.log", "job started"); },
        240))
        << "the job did not start:\n"
        << test::read_file(dir_ / "launch.log");
  }

  void TearDown() override {
    if (cfg_.empty())
      return;
    for (const auto& node : {"head", "s0", "s1", "w0", "w1", "w2"})
      if (auto pid = node_pid(cfg_, node); pid > 0) {
        ::kill(pid, SIGCONT);
        ::kill(pid, SIGTERM);
      }
    test::wait_for([&] { return test::processes_mentioning(cfg_).empty(); },
                   20);
  }

  temp_dir dir_;
  std::string cfg_;
  std::string yaml_;
  std::filesystem::path rc_;
};

} // namespace metronome::test
