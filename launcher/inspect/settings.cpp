#include "launcher/inspect/settings.hpp"

#include "actors/core/live_change.hpp"
#include "launcher/inspect/commands.hpp"
#include "launcher/inspect/session.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <thread>

namespace metronome::launcher::inspect {

namespace {

// The parameters `set cutoff RULE` takes as KEY=VALUE, whole numbers.
const std::vector<std::string> cutoff_keys = {"backups", "window"};

const actors::live_knob* knob_named(const std::string& name) {
  const auto& knobs = actors::live_knobs();
  auto k = std::find_if(knobs.begin(), knobs.end(),
                        [&](const auto& l) { return l.name == name; });
  return k == knobs.end() ? nullptr : &*k;
}

bool whole(const std::string& text, std::int64_t& out) {
  const auto* end = text.data() + text.size();
  auto [at, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && at == end;
}

bool number(const std::string& text, double& out) {
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size() &&
         std::isfinite(out);
}

std::string check_cutoff(const std::vector<std::string>& words) {
  if (words.size() < 3)
    return "usage: set cutoff RULE [KEY=VALUE ...] (e.g. set cutoff static "
           "backups=2)";
  for (std::size_t i = 3; i < words.size(); ++i) {
    auto eq = words[i].find('=');
    std::int64_t value = 0;
    auto key = words[i].substr(0, eq);
    if (eq == std::string::npos ||
        std::find(cutoff_keys.begin(), cutoff_keys.end(), key) ==
            cutoff_keys.end())
      return "set cutoff: '" + words[i] + "' is not KEY=VALUE with KEY one " +
             "of " + joined(cutoff_keys);
    if (!whole(words[i].substr(eq + 1), value) || value < 0)
      return "set cutoff: " + key + " needs a whole number >= 0, not '" +
             words[i].substr(eq + 1) + "'";
  }
  return {};
}

} // namespace

std::string check_set(const std::vector<std::string>& words) {
  std::vector<std::string> usages;
  for (const auto& k : actors::live_knobs())
    usages.push_back(k.usage);
  if (words.size() < 2 || knob_named(words[1]) == nullptr)
    return "usage: " + joined(usages);
  if (words[1] == "cutoff")
    return check_cutoff(words);
  if (words[1] == "learning_rate") {
    double rate = 0;
    if (words.size() != 3 || !number(words[2], rate))
      return "usage: set learning_rate RATE (a number, e.g. set "
             "learning_rate 0.05)";
    return {};
  }
  std::int64_t bound = 0;
  if (words.size() != 4 || !whole(words[3], bound))
    return "usage: " + knob_named(words[1])->usage +
           " (BOUND a whole number, e.g. set staleness all 2)";
  return {};
}

json set_request(const std::vector<std::string>& words) {
  json request = {{"v", 1}, {"op", "set"}, {"knob", words[1]}};
  if (words[1] == "learning_rate") {
    double rate = 0;
    number(words[2], rate);
    request["value"] = rate;
    return request;
  }
  if (words[1] == "staleness") {
    std::int64_t bound = 0;
    whole(words[3], bound);
    request["table"] = words[2];
    request["value"] = bound;
    return request;
  }
  json value = {{"rule", words[2]}};
  for (std::size_t i = 3; i < words.size(); ++i) {
    auto eq = words[i].find('=');
    std::int64_t v = 0;
    whole(words[i].substr(eq + 1), v);
    value[words[i].substr(0, eq)] = v;
  }
  request["value"] = value;
  return request;
}

std::string set_target(const std::vector<std::string>& words) {
  return knob_named(words[1])->role == "server" ? "server/0" : "coordinator/0";
}

std::vector<std::string> describe_change(const json& change) {
  auto knob = change.value("knob", std::string());
  auto state = change.value("state", std::string());
  if (knob == "staleness" || knob == "learning_rate") {
    auto head = fmt::format("{}{}: {} -> {}", knob,
                            change.contains("table")
                                ? " of table " + change.value("table", "")
                                : "",
                            change["from"].dump(), change["to"].dump());
    if (state == "applied")
      return {fmt::format("{}, asked at iteration {}, in force from clock {} "
                          "for every worker",
                          head, change.value("iteration", 0),
                          change.value("clock", 0))};
    return {fmt::format("{}, asked at iteration {}; each worker takes it at "
                        "its next {} (`actor coordinator/0` shows when it "
                        "is in force)",
                        head, change.value("iteration", 0),
                        knob == "staleness" ? "read" : "push")};
  }
  return {fmt::format("cutoff rule: {} -> {}, asked while version {} is "
                      "collected; the predictor decides with it from its next "
                      "decision (the records name the rule of every version)",
                      change.value("from", ""), change.value("to", ""),
                      change.value("version", 0))};
}

// Sends a `set`, then asks for the actor's answer; a staleness change is
// followed until every worker has taken it or the timeout passes.
result session::set(const std::vector<std::string>& words) {
  auto actor = set_target(words);
  auto node = node_of(actor);
  auto request = set_request(words);
  request["actor"] = actor;
  auto asked = ask_node(node, request);
  if (!asked.ok)
    return asked;
  auto got = await_answer(node, actor, asked.data.value("id", std::uint64_t{0}),
                          "has not taken the setting");
  if (!got.ok)
    return got;
  auto change = got.data.value("change", json::object());
  if (change.value("knob", "") != "cutoff")
    change = follow_change(node, change);
  result r;
  r.lines = describe_change(change);
  r.data = {{"change", change}};
  return r;
}

// The latest state of `change` (a staleness change asked for) as the
// coordinator publishes it, once applied or when the timeout passes.
json session::follow_change(const std::string& node, const json& change) {
  auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::milliseconds(static_cast<long>(client_.timeout() * 1000));
  auto latest = change;
  while (std::chrono::steady_clock::now() < deadline) {
    auto status = ask_node(node, {{"v", 1}, {"op", "status"}});
    if (!status.ok)
      break;
    for (const auto& a : status.data.value("actors", json::array()))
      if (a.value("name", "") == "coordinator/0" && a.contains("settings") &&
          !a["settings"].empty())
        latest = a["settings"].back();
    if (latest.value("state", "") == "applied")
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return latest;
}

namespace {

std::string seconds_text(const json& v) {
  return v.is_number() ? fmt::format("{:.4f}", v.get<double>()) : "-";
}

// Lines for people about `view`, the leading server's `cutoff` note.
std::vector<std::string> describe_cutoff(const json& view) {
  std::vector<std::string> lines = {fmt::format(
      "rule {}; version {} was decided by {}: it waited for {} of {} "
      "gradients, {:.4f} s after the broadcast",
      view.value("rule", "?"), view.value("version", 0),
      view.value("decided_by", "?"), view.value("cutoff", 0),
      view.value("workers", 0), view.value("cutoff_s", 0.0))};
  lines.push_back(fmt::format(
      "decisions: {} versions, {:.3f} ms mean, {:.3f} ms last{}, {} late; "
      "{} run-times censored; {} gradients dropped as late",
      view.value("versions", 0), 1e3 * view.value("decision_mean_s", 0.0),
      1e3 * view.value("decision_s", 0.0),
      view.value("decision_late", false) ? " (late)" : "",
      view.value("late_decisions", 0), view.value("censored", 0),
      view.value("late_gradients", 0)));
  lines.push_back(fmt::format("{:>4} {:>12} {:>12}  (k-th fastest run-time, "
                              "seconds)",
                              "k", "predicted", "realised"));
  for (const auto& row : view.value("order_statistics", json::array()))
    lines.push_back(fmt::format(
        "{:>4} {:>12} {:>12}{}", row.value("k", 0),
        seconds_text(row["predicted_s"]), seconds_text(row["realised_s"]),
        row["realised_s"].is_null() ? "  censored" : ""));
  return lines;
}

} // namespace

// The leading server's view of the cutoff: what its predictor decided for
// the last version, and how that compares with what came.
result session::cutoff() {
  auto node = node_of("server/0");
  auto status = ask_node(node, {{"v", 1}, {"op", "status"}});
  if (!status.ok)
    return status;
  auto consistency = status.data.value("consistency", std::string());
  result r;
  if (consistency != "cutoff") {
    r.ok = false;
    r.error = "this job runs under " + consistency +
              "; cutoff describes jobs with consistency cutoff";
    return r;
  }
  for (const auto& a : status.data.value("actors", json::array()))
    if (a.value("name", "") == "server/0" && a.contains("cutoff")) {
      r.lines = describe_cutoff(a["cutoff"]);
      r.data = {{"cutoff", a["cutoff"]}};
      return r;
    }
  r.lines.push_back("no version has been decided yet");
  r.data = {{"cutoff", nullptr}};
  return r;
}

} // namespace metronome::launcher::inspect
