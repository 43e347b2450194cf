#include "launcher/inspect/client.hpp"

#include <zmq_addon.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>

namespace metronome::launcher::inspect {

namespace {

// Replies larger than this are not read (a node with many actors answers
// a few hundred kilobytes).
constexpr std::int64_t max_reply_bytes = std::int64_t{64} << 20;

void take_reply(zmq::socket_t& s, answer& a) {
  std::vector<zmq::message_t> parts;
  if (!zmq::recv_multipart(s, std::back_inserter(parts),
                           zmq::recv_flags::dontwait))
    return;
  a.answered = true;
  a.error.clear();
  if (parts.size() != 2 || parts[0].size() != 0) {
    a.error = "bad reply from " + a.at.text() + ": " +
              std::to_string(parts.size()) + " frames (expected 2)";
    return;
  }
  try {
    a.reply = json::parse(parts[1].to_string_view());
  } catch (const json::exception& e) {
    a.error = "bad reply from " + a.at.text() + ": " + e.what();
    return;
  }
  if (!a.reply.is_object()) {
    a.error = "bad reply from " + a.at.text() + ": not a JSON object";
    return;
  }
  if (a.reply.value("ok", false) != true)
    a.error = a.at.text() + " refused the request: " +
              a.reply.value("error", std::string("no reason given"));
  else if (a.at.node.empty())
    a.at.node = a.reply.value("node", std::string());
}

} // namespace

std::optional<endpoint> parse_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return std::nullopt;
  std::string_view digits(text);
  digits.remove_prefix(colon + 1);
  unsigned port = 0;
  auto [end, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || end != digits.data() + digits.size() || port == 0 ||
      port > 65535 || digits.front() == '+')
    return std::nullopt;
  endpoint e;
  e.host = text.substr(0, colon);
  e.port = static_cast<std::uint16_t>(port);
  if (e.host.find_first_of(" /\t") != std::string::npos)
    return std::nullopt;
  return e;
}

control_client::control_client(double timeout_seconds)
    : timeout_(timeout_seconds) {}

control_client::~control_client() = default;

std::vector<answer> control_client::ask(const std::vector<endpoint>& to,
                                        const json& request) {
  using clock = std::chrono::steady_clock;
  std::vector<answer> out(to.size());
  std::vector<std::unique_ptr<zmq::socket_t>> sockets(to.size());
  auto body = request.dump();
  for (std::size_t i = 0; i < to.size(); ++i) {
    out[i].at = to[i];
    out[i].error = "no node answers at " + to[i].text();
    try {
      auto s = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
      s->set(zmq::sockopt::linger, 0);
      s->set(zmq::sockopt::maxmsgsize, max_reply_bytes);
      s->connect("tcp://" + to[i].host + ":" + std::to_string(to[i].port));
      s->send(zmq::message_t(),
              zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      s->send(zmq::buffer(body), zmq::send_flags::dontwait);
      sockets[i] = std::move(s);
    } catch (const zmq::error_t& e) {
      out[i].error = "cannot reach " + to[i].text() + ": " + e.what();
    }
  }
  auto deadline = clock::now() + std::chrono::milliseconds(static_cast<long>(
                                     std::max(0.0, timeout_) * 1000));
  for (;;) {
    std::vector<zmq::pollitem_t> items;
    std::vector<std::size_t> which;
    for (std::size_t i = 0; i < to.size(); ++i)
      if (sockets[i] && !out[i].answered) {
        items.push_back({sockets[i]->handle(), 0, ZMQ_POLLIN, 0});
        which.push_back(i);
      }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - clock::now());
    if (items.empty() || left.count() <= 0)
      break;
    try {
      zmq::poll(items, left);
      for (std::size_t k = 0; k < items.size(); ++k)
        if (items[k].revents & ZMQ_POLLIN)
          take_reply(*sockets[which[k]], out[which[k]]);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR)
        break;
    }
  }
  return out;
}

} // namespace metronome::launcher::inspect
