#pragma once

// Helpers for tests that drive the real metronome binary and real sockets.

#include "messages/transport.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/wait.h>

namespace metronome::test {

using messages::free_tcp_ports;

/// A fresh directory under the system temp dir, removed on destruction.
class temp_dir {
public:
  temp_dir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "metronome-test-XXXXXX")
            .string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::filesystem::path operator/(const std::string& name) const {
    return path_ / name;
  }
  const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

inline void write_file(const std::filesystem::path& p,
                       const std::string& text) {
  std::ofstream out(p);
  out << text;
}

/// Result of a finished command.
struct command_result {
  int exit_code = -1;
  std::string output; ///< stdout and stderr together
};

/// Runs `command` with /bin/sh and collects its output.
inline command_result run(const std::string& command) {
  command_result r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr)
    return r;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0)
    r.output.append(buf.data(), n);
  int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return r;
}

/// `command` for /bin/sh under a bound on its address space (`ulimit -v`)
/// and its time (timeout(1), exit status 124), so a bad input that makes the
/// binary allocate what it declares or block on a read fails the test. The
/// sanitizers reserve terabytes of address space, so their builds get only
/// the time bound.
inline std::string bounded(const std::string& command, int seconds = 60) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  const std::string limit;
#else
  const std::string limit = "ulimit -v 1048576 && "; // 1 GiB, in KiB
#endif
  return limit + "timeout " + std::to_string(seconds) + " " + command;
}

/// Path of the metronome binary under test.
inline std::string binary() {
  return METRONOME_BINARY;
}

inline std::string fashion_mnist(const std::string& file) {
  return "/usr/share/datasets/fashion-mnist/" + file;
}

/// Starts `command` in the background with its output in DIR/NAME.log;
/// returns the path of the file its exit code is written to when it ends.
inline std::filesystem::path background(const std::string& command,
                                        const temp_dir& dir,
                                        const std::string& name) {
  auto log = dir / (name + ".log");
  auto rc = dir / (name + ".rc");
  run("(" + command + " > " + log.string() + " 2>&1; echo $? > " + rc.string() +
      ".tmp; mv " + rc.string() + ".tmp " + rc.string() +
      ") < /dev/null > /dev/null 2>&1 &");
  return rc;
}

/// The exit code written to `rc` (by background()), or -1.
inline int exit_code(const std::filesystem::path& rc) {
  std::ifstream in(rc);
  int code = -1;
  in >> code;
  return code;
}

/// An IPv4 address of this machine other than loopback, or "".
inline std::string own_address() {
  std::string found;
  ifaddrs* addrs = nullptr;
  if (getifaddrs(&addrs) != 0)
    return found;
  for (auto* a = addrs; a != nullptr && found.empty(); a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET)
      continue;
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr,
              text, sizeof(text));
    if (std::string(text).rfind("127.", 0) != 0)
      found = text;
  }
  freeifaddrs(addrs);
  return found;
}

} // namespace metronome::test
