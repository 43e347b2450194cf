#include "launcher/experiment/plot.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <vector>

extern char** environ;

namespace metronome::launcher::experiment {

namespace {

namespace fs = std::filesystem;

std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "";
  while (true) {
    std::size_t colon = std::min(dirs.find(':'), dirs.size());
    fs::path dir(dirs.substr(0, colon).empty() ? "." : dirs.substr(0, colon));
    std::error_code ec;
    fs::path candidate = dir / name;
    if (fs::is_regular_file(candidate, ec) &&
        ::access(candidate.c_str(), X_OK) == 0)
      return candidate.string();
    if (colon == dirs.size())
      return "";
    dirs.remove_prefix(colon + 1);
  }
}

// Runs `argv` with no input and its output discarded; returns its exit
// status, or -1 when it could not start or did not exit.
int run_quietly(std::vector<std::string> argv) {
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

} // namespace

std::string png_from_svg(const std::string& svg_path, std::string& note) {
  std::string program = find_program("rsvg-convert");
  if (program.empty()) {
    note = "rsvg-convert is not installed (Debian package librsvg2-bin), so "
           "no PNG was made";
    return "";
  }
  std::error_code ec;
  if (!fs::is_regular_file(svg_path, ec)) {
    note = svg_path + ": no such SVG file, so no PNG was made";
    return "";
  }
  std::string png = fs::path(svg_path).replace_extension(".png").string();
  int status = run_quietly({program, "-o", png, svg_path});
  if (status != 0 || !fs::is_regular_file(png, ec) ||
      fs::file_size(png, ec) == 0) {
    note = fmt::format("rsvg-convert could not convert {} (exit status {})",
                       svg_path, status);
    return "";
  }
  note.clear();
  return png;
}

} // namespace metronome::launcher::experiment
