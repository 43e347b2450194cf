// The control endpoint of a transport: a ROUTER answering inspection
// requests, and the ZAP handler that admits loopback clients only.

#include "messages/thread_handoff.hpp"
#include "messages/transport.hpp"

#include <spdlog/spdlog.h>
#include <zmq_addon.hpp>

#include <cstdio>

namespace metronome::messages {

namespace {

// The ZAP domain of control sockets: only sockets with a domain consult the
// context's ZAP handler, so the data sockets are not affected.
constexpr const char* control_domain = "metronome-control";

// Requests taken per poll round, so that a flood of them cannot starve the
// data path.
constexpr int control_batch = 16;

std::string json_text(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string error_reply(const std::string& node, const std::string& error) {
  return "{\"v\":1,\"ok\":false,\"node\":" + json_text(node) +
         ",\"error\":" + json_text(error) + "}";
}

// Loopback sources only, until CURVE authenticates clients.
bool loopback_address(const std::string& address) {
  return address.rfind("127.", 0) == 0 || address == "::1" ||
         address.rfind("::ffff:127.", 0) == 0;
}

} // namespace

void transport::open_control() {
  if (opts_.control_bind.empty())
    return;
  try {
    zap_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::rep);
    zap_->set(zmq::sockopt::linger, 0);
    zap_->bind("inproc://zeromq.zap.01");
    control_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::router);
    control_->set(zmq::sockopt::linger, 0);
    control_->set(zmq::sockopt::zap_domain, control_domain);
    control_->set(zmq::sockopt::maxmsgsize,
                  static_cast<std::int64_t>(16 * opts_.max_control_bytes));
    control_->bind(opts_.control_bind);
    control_bound_ = control_->get(zmq::sockopt::last_endpoint);
    spdlog::info("{}: control endpoint {}", opts_.node, control_bound_);
  } catch (const zmq::error_t& e) {
    spdlog::warn("{}: no control endpoint: cannot bind {}: {} (inspect "
                 "cannot reach this node; the job runs without it)",
                 opts_.node, opts_.control_bind, e.what());
    control_.reset();
    zap_.reset();
  }
}

void transport::close_control() {
  if (control_)
    control_->close();
  if (zap_)
    zap_->close();
}

void transport::answer_zap() {
  for (;;) {
    std::vector<zmq::message_t> parts;
    try {
      if (!zmq::recv_multipart(*zap_, std::back_inserter(parts),
                               zmq::recv_flags::dontwait))
        return;
    } catch (const zmq::error_t& e) {
      log_once("?", "ZAP receive failed", e.what());
      return;
    }
    acquire_handoff();
    std::string id = parts.size() > 1 ? parts[1].to_string() : "";
    std::string address = parts.size() > 3 ? parts[3].to_string() : "";
    bool ok = parts.size() >= 6 && loopback_address(address);
    if (!ok)
      log_once(address, "control client refused",
               "only loopback clients may inspect a node until CURVE keys "
               "are configured");
    std::vector<zmq::message_t> reply;
    for (std::string frame :
         {std::string("1.0"), id, std::string(ok ? "200" : "400"),
          std::string(ok ? "OK" : "only loopback clients"), std::string(),
          std::string()})
      reply.emplace_back(frame.data(), frame.size());
    try {
      release_handoff();
      zmq::send_multipart(*zap_, reply, zmq::send_flags::dontwait);
    } catch (const zmq::error_t& e) {
      log_once("?", "ZAP reply failed", e.what());
    }
  }
}

void transport::serve_control() {
  for (int n = 0; n < control_batch; ++n) {
    std::vector<zmq::message_t> parts;
    try {
      if (!zmq::recv_multipart(*control_, std::back_inserter(parts),
                               zmq::recv_flags::dontwait))
        return;
    } catch (const zmq::error_t& e) {
      log_once("?", "control receive failed", e.what());
      return;
    }
    acquire_handoff();
    // [client id] [empty delimiter, as REQ sends it]? [request]
    std::size_t body = parts.size() >= 2 && parts[1].size() == 0 ? 2 : 1;
    std::string reply;
    if (parts.size() != body + 1) {
      reply = error_reply(opts_.node, "a request is one frame of JSON, got " +
                                          std::to_string(parts.size() - body) +
                                          " frames");
    } else if (parts[body].size() > opts_.max_control_bytes) {
      reply = error_reply(opts_.node,
                          "request of " + std::to_string(parts[body].size()) +
                              " bytes; this endpoint takes at most " +
                              std::to_string(opts_.max_control_bytes));
    } else {
      try {
        reply = on_control_ ? on_control_(parts[body].to_string())
                            : error_reply(opts_.node, "no control handler");
      } catch (const std::exception& e) {
        reply = error_reply(opts_.node, e.what());
      }
    }
    std::vector<zmq::message_t> out;
    out.push_back(std::move(parts[0]));
    if (body == 2)
      out.emplace_back();
    out.emplace_back(reply.data(), reply.size());
    try {
      release_handoff();
      zmq::send_multipart(*control_, out, zmq::send_flags::dontwait);
    } catch (const zmq::error_t& e) {
      log_once("?", "control reply failed", e.what());
    }
  }
}

} // namespace metronome::messages
