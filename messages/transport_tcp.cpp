// The transport's tcp side: binding its ROUTER, and the socket monitor that
// counts inbound connections and refuses those over the cap.

#include "messages/transport.hpp"

#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>

namespace metronome::messages {

namespace {

// Distinguishes the monitor endpoints of transports sharing a context.
std::atomic<std::uint64_t> monitor_serial{0};

bool is_tcp(const std::string& endpoint) {
  return endpoint.rfind("tcp://", 0) == 0;
}

std::uint16_t port_of(const std::string& endpoint) {
  auto colon = endpoint.rfind(':');
  if (colon == std::string::npos)
    return 0;
  try {
    return static_cast<std::uint16_t>(std::stoul(endpoint.substr(colon + 1)));
  } catch (const std::exception&) {
    return 0;
  }
}

// "ADDRESS:PORT" of a socket address, or "" for other families.
std::string address_text(const sockaddr_storage& a) {
  char text[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(a);
    inet_ntop(AF_INET, &in.sin_addr, text, sizeof(text));
    return std::string(text) + ":" + std::to_string(ntohs(in.sin_port));
  }
  if (a.ss_family == AF_INET6) {
    const auto& in = reinterpret_cast<const sockaddr_in6&>(a);
    inet_ntop(AF_INET6, &in.sin6_addr, text, sizeof(text));
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(in.sin6_port));
  }
  return {};
}

std::uint16_t port_of(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET)
    return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
  if (a.ss_family == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
  return 0;
}

} // namespace

void transport::start_monitor() {
  if (!std::any_of(opts_.bind.begin(), opts_.bind.end(), is_tcp))
    return;
  // Watching starts before binding, so no accepted connection is missed.
  auto ep = "inproc://metronome-monitor-" + std::to_string(++monitor_serial);
  if (zmq_socket_monitor(router_->handle(), ep.c_str(),
                         ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) == 0) {
    monitor_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::pair);
    monitor_->set(zmq::sockopt::linger, 0);
    // Unbounded, so that no event (and no count) is lost.
    monitor_->set(zmq::sockopt::rcvhwm, 0);
    monitor_->connect(ep);
  } else {
    spdlog::warn("{}: cannot watch inbound connections ({}); they are not "
                 "capped",
                 opts_.node, zmq_strerror(zmq_errno()));
  }
}

void transport::bind_router() {
  for (const auto& ep : opts_.bind) {
    try {
      router_->bind(ep);
    } catch (const zmq::error_t& e) {
      stop_monitor();
      router_.reset();
      throw std::runtime_error("node " + opts_.node + ": cannot bind " + ep +
                               ": " + e.what());
    }
    if (is_tcp(ep)) {
      bound_.push_back(router_->get(zmq::sockopt::last_endpoint));
      listen_ports_.push_back(port_of(bound_.back()));
    }
  }
}

void transport::watch_monitor() {
  for (;;) {
    zmq::message_t event;
    zmq::message_t address;
    try {
      if (!monitor_->recv(event, zmq::recv_flags::dontwait))
        return;
      while (event.more() && monitor_->recv(address, zmq::recv_flags::dontwait))
        if (!address.more())
          break;
    } catch (const zmq::error_t& e) {
      log_once("?", "connection monitor failed", e.what());
      return;
    }
    if (event.size() < 6)
      continue;
    std::uint16_t id;
    std::uint32_t value;
    std::memcpy(&id, event.data(), sizeof(id));
    std::memcpy(&value, event.data<std::uint8_t>() + 2, sizeof(value));
    int fd = static_cast<int>(value);
    if (id == ZMQ_EVENT_ACCEPTED) {
      ++counters_.connections_accepted;
      connections_.insert(fd);
      if (connections_.size() > max_connections_)
        refuse_connection(fd);
    } else if (id == ZMQ_EVENT_DISCONNECTED) {
      if (connections_.erase(fd) > 0)
        ++counters_.connections_closed;
    }
  }
}

// ZeroMQ owns the descriptor: it is shut down, never closed, so ZeroMQ sees
// the connection end and cleans up. The descriptor may have been reused
// since the event; it is touched only while it is still a connection to one
// of our ports, which, accepted after this one, is over the cap as well.
void transport::refuse_connection(int fd) {
  sockaddr_storage local{};
  sockaddr_storage remote{};
  socklen_t local_len = sizeof(local);
  socklen_t remote_len = sizeof(remote);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0 ||
      ::getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &remote_len) != 0)
    return;
  auto port = port_of(local);
  if (port == 0 || std::find(listen_ports_.begin(), listen_ports_.end(),
                             port) == listen_ports_.end())
    return;
  if (::shutdown(fd, SHUT_RDWR) != 0)
    return;
  ++counters_.connections_refused;
  if (!cap_logged_) {
    cap_logged_ = true;
    spdlog::warn("{}: inbound connection from {} refused: more than {} "
                 "connections are open (max_connections; further ones are "
                 "only counted)",
                 opts_.node, address_text(remote), max_connections_);
  }
}

void transport::stop_monitor() {
  if (!monitor_)
    return;
  zmq_socket_monitor(router_->handle(), nullptr, 0);
  monitor_->close();
  monitor_.reset();
}

} // namespace metronome::messages
