#include "launcher/inspect/commands.hpp"

#include "actors/core/control_service.hpp"
#include "launcher/inspect/settings.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace metronome::launcher::inspect {

namespace {

// The most values `table` reads at once, as the control endpoints allow.
constexpr std::uint64_t max_slice = actors::max_slice_values;

} // namespace

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words)
    out += (out.empty() ? "" : ", ") + w;
  return out;
}

bool positive_seconds(const std::string& text, double& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() &&
         std::isfinite(out) && out >= 0.05 && out <= 3600;
}

// `text` read as BEGIN:END, two whole numbers.
bool parse_slice(const std::string& text, std::uint64_t& begin,
                 std::uint64_t& end) {
  auto colon = text.find(':');
  if (colon == std::string::npos)
    return false;
  auto number = [](const char* from, const char* to, std::uint64_t& out) {
    auto [at, ec] = std::from_chars(from, to, out);
    return from != to && ec == std::errc() && at == to;
  };
  const char* p = text.data();
  return number(p, p + colon, begin) &&
         number(p + colon + 1, p + text.size(), end);
}

const std::vector<std::pair<std::string, std::string>>& command_help() {
  static const std::vector<std::pair<std::string, std::string>> help = {
      {"help", "this list"},
      {"nodes", "every node and its liveness"},
      {"actors [FILTER]", "actors whose name, role or node contains FILTER"},
      {"actor NAME", "everything actor NAME publishes"},
      {"clocks", "the clock of every worker and table"},
      {"queues", "transport queues and credit per peer, mailboxes per actor"},
      {"staleness", "per worker the staleness of its reads (mean, max) "
                    "against the bound, and its time blocked"},
      {"cutoff", "the cutoff rule, the last version's cutoff with predicted "
                 "and realised order statistics, decision latency, censored "
                 "run-times"},
      {"table NAME BEGIN:END",
       "keys BEGIN..END-1 of table NAME as its servers hold them now (at "
       "most 4096)"},
      {"pause NAME", "worker NAME starts no iteration after the current "
                     "one (options.inspect: write)"},
      {"resume NAME", "paused worker NAME goes on"},
      {"set KNOB ...",
       "changes a knob live (options.inspect: write): set staleness TABLE "
       "BOUND, set learning_rate RATE, set cutoff RULE [KEY=VALUE ...]"},
      {"why",
       "who waits for whom, and whether the cause is dead, paused, slow or "
       "stuck"},
      {"watch CMD [--interval S] [--count N]",
       "repeats CMD every S seconds (default 1), N times (default: until "
       "interrupted)"},
  };
  return help;
}

std::string check_command(const std::vector<std::string>& words) {
  if (words.empty())
    return "empty command";
  const auto& c = words[0];
  auto args = words.size() - 1;
  std::vector<std::string> names;
  for (const auto& [usage, text] : command_help())
    names.push_back(usage.substr(0, usage.find(' ')));
  if (std::find(names.begin(), names.end(), c) == names.end())
    return "unknown command '" + c + "' (commands: " + joined(names) + ")";
  if ((c == "help" || c == "nodes" || c == "clocks" || c == "queues" ||
       c == "why" || c == "staleness" || c == "cutoff") &&
      args > 0)
    return c + " takes no arguments";
  if ((c == "pause" || c == "resume") && args != 1)
    return "usage: " + c + " NAME";
  if (c == "table") {
    std::uint64_t begin = 0, end = 0;
    if (args != 2 || !parse_slice(words[2], begin, end))
      return "usage: table NAME BEGIN:END (keys BEGIN..END-1, e.g. table all "
             "0:16)";
    if (begin >= end)
      return "table " + words[2] + ": an empty slice (BEGIN must be below END)";
    if (end - begin > max_slice)
      return "table " + words[2] + ": " + std::to_string(end - begin) +
             " values; at most " + std::to_string(max_slice) +
             " are read at once";
  }
  if (c == "set")
    return check_set(words);
  if (c == "actors" && args > 1)
    return "usage: actors [FILTER]";
  if (c == "actor" && args != 1)
    return "usage: actor NAME";
  if (c != "watch")
    return {};
  std::vector<std::string> inner;
  for (std::size_t i = 1; i < words.size(); ++i) {
    double value = 0;
    if (words[i] == "--interval" || words[i] == "--count") {
      if (i + 1 == words.size() || !positive_seconds(words[i + 1], value))
        return words[i] + " needs a number (seconds 0.05..3600, or a count)";
      ++i;
      continue;
    }
    inner.push_back(words[i]);
  }
  if (inner.empty() || inner[0] == "watch")
    return "usage: watch CMD [--interval S] [--count N]";
  if (inner[0] == "pause" || inner[0] == "resume" || inner[0] == "set")
    return "watch repeats a question; " + inner[0] + " changes the job";
  return check_command(inner);
}

} // namespace metronome::launcher::inspect
