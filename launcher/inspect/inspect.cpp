#include "launcher/inspect/inspect.hpp"

#include "launcher/cli_checks.hpp"
#include "launcher/inspect/repl.hpp"
#include "launcher/inspect/session.hpp"

#include "algorithms/data/input_file.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace metronome::launcher {

namespace {

using inspect::inspect_failed;
using inspect::inspect_ok;
using inspect::inspect_usage;

// A command file larger than this is refused: scripts are a few lines.
constexpr std::uintmax_t max_script_bytes = 1 << 20;

struct script_line {
  std::string where; ///< "--exec, command 2", "FILE:3"
  std::vector<std::string> words;
};

std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;)
    words.push_back(w);
  return words;
}

// The commands of `text`: ';' separates them, '#' starts a comment.
void add_commands(const std::string& text, const std::string& where,
                  std::vector<script_line>& out) {
  auto body = text.substr(0, text.find('#'));
  std::size_t n = 0;
  for (std::size_t at = 0; at <= body.size();) {
    auto semi = std::min(body.find(';', at), body.size());
    auto words = split_words(body.substr(at, semi - at));
    ++n;
    if (!words.empty())
      out.push_back({where + (where.find(':') == std::string::npos
                                  ? ", command " + std::to_string(n)
                                  : ""),
                     words});
    at = semi + 1;
  }
}

// Why commands cannot be read from `path`, or "".
std::string script_problem(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (!fs::exists(st))
    return "no such file";
  if (!fs::is_regular_file(st))
    return "it is " + algorithms::describe_path(path) + ", not a regular file";
  auto size = fs::file_size(path, ec);
  if (ec)
    return ec.message();
  if (size > max_script_bytes)
    return "it has " + std::to_string(size) + " bytes; a command file may " +
           "have at most " + std::to_string(max_script_bytes);
  return {};
}

void add_lines(std::istream& in, const std::string& name,
               std::vector<script_line>& out) {
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n)
    add_commands(line, name + ":" + std::to_string(n), out);
}

// The script to run, or an exit code when it is bad.
int read_script(const inspect_options& o, std::vector<script_line>& out) {
  if (!o.exec.empty())
    add_commands(o.exec, "--exec", out);
  if (!o.file.empty()) {
    if (auto why = script_problem(o.file); !why.empty()) {
      std::fprintf(stderr, "cannot read commands from '%s': %s\n",
                   o.file.c_str(), why.c_str());
      return inspect_usage;
    }
    std::ifstream in(o.file);
    add_lines(in, o.file, out);
  }
  if (o.exec.empty() && o.file.empty() && !::isatty(STDIN_FILENO))
    add_lines(std::cin, "stdin", out);
  for (const auto& line : out) {
    if (line.words[0] == "quit" || line.words[0] == "exit")
      continue;
    if (auto why = inspect::check_command(line.words); !why.empty()) {
      std::fprintf(stderr, "%s: %s\n", line.where.c_str(), why.c_str());
      return inspect_usage;
    }
  }
  return inspect_ok;
}

} // namespace

CLI::App* add_inspect(CLI::App& app, inspect_options& o) {
  auto* cmd = app.add_subcommand(
      "inspect", "Attach to a running job: nodes, actors, clocks, queues, "
                 "and why it waits (see docs/inspect.md)");
  cmd->add_option("target", o.target,
                  "Topology YAML file of the job, or HOST:PORT of one node's "
                  "control endpoint")
      ->required();
  auto* exec =
      cmd->add_option("--exec,-e", o.exec, "Commands to run, separated by ';'");
  cmd->add_option("-f,--file", o.file, "File of commands, one per line")
      ->excludes(exec);
  cmd->add_flag("--json", o.json, "Print one JSON object per reply");
  cmd->add_option("--timeout", o.timeout,
                  "Seconds to wait for the nodes' answers (default 3)")
      ->check(number_in(0.1, 3600));
  return cmd;
}

int run_inspect(const inspect_options& o) {
  std::vector<script_line> script;
  if (auto rc = read_script(o, script); rc != inspect_ok)
    return rc;
  bool interactive = o.exec.empty() && o.file.empty() && ::isatty(STDIN_FILENO);
  if (!interactive && script.empty()) {
    std::fprintf(stderr, "no commands given (use --exec, -f or a terminal)\n");
    return inspect_usage;
  }
  inspect::session s(o.timeout, o.json);
  if (auto rc = s.attach(o.target); rc != inspect_ok)
    return rc;
  if (interactive)
    return inspect::repl(s);
  int status = inspect_ok;
  for (const auto& line : script) {
    if (line.words[0] == "quit" || line.words[0] == "exit")
      break;
    status = std::max(status, s.run(line.words));
  }
  return status;
}

} // namespace metronome::launcher
