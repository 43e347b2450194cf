#pragma once

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace metronome::launcher::inspect {

using json = nlohmann::ordered_json;

/// Where a node's control endpoint answers.
struct endpoint {
  std::string node; ///< empty until a reply or the topology names it
  std::string host;
  std::uint16_t port = 0;

  /// "HOST:PORT".
  std::string text() const { return host + ":" + std::to_string(port); }
};

/// `text` read as HOST:PORT (port 1..65535), or nullopt.
std::optional<endpoint> parse_endpoint(const std::string& text);

/// One node's answer to a request, or why there is none.
struct answer {
  endpoint at;
  bool answered = false;
  std::string error; ///< "no node answers at HOST:PORT", a bad reply, ...
  json reply;        ///< the reply object when answered
};

/// Asks control endpoints, all at once, and waits at most a timeout for
/// their replies; never blocks longer, whatever the network does.
class control_client {
public:
  explicit control_client(double timeout_seconds);
  ~control_client();

  /// The replies of `to` to `request`, in the order of `to`. A reply that
  /// is not a JSON object, or one with "ok": false, counts as answered
  /// with `error` set.
  std::vector<answer> ask(const std::vector<endpoint>& to, const json& request);

  double timeout() const { return timeout_; }

private:
  zmq::context_t ctx_;
  double timeout_;
};

} // namespace metronome::launcher::inspect
