#include "messages/transport.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>

namespace metronome::messages {

std::vector<std::uint16_t> free_tcp_ports(std::size_t n) {
  // Below Linux's ephemeral range (32768-60999), where outgoing connections
  // take their source ports: a port found free there can be taken by any
  // connection a moment later. Probe sockets stay open until the end, so
  // the ports differ.
  constexpr int low = 20000;
  constexpr int high = 32767;
  std::mt19937 rng(std::random_device{}() ^
                   static_cast<std::uint32_t>(::getpid()));
  std::uniform_int_distribution<int> pick(low, high);
  std::vector<int> fds;
  std::vector<std::uint16_t> ports;
  for (int attempt = 0; ports.size() < n && attempt < 4 * (high - low);
       ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
      break;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    auto port = static_cast<std::uint16_t>(pick(rng));
    addr.sin_port = htons(port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd);
      continue;
    }
    fds.push_back(fd);
    ports.push_back(port);
  }
  int saved = errno;
  for (int fd : fds)
    ::close(fd);
  if (ports.size() < n)
    throw std::runtime_error("cannot find " + std::to_string(n) +
                             " free tcp ports in " + std::to_string(low) +
                             ".." + std::to_string(high) + ": " +
                             std::strerror(saved));
  return ports;
}

std::string bind_address(const std::string& host) {
  in_addr v4;
  in6_addr v6;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1)
    return host;
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1)
    return "[" + host + "]";
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (host.empty() || getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0)
    return "*";
  std::string first;
  bool loopback = true;
  for (auto* a = found; a != nullptr; a = a->ai_next) {
    auto in = reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr;
    loopback = loopback && (ntohl(in.s_addr) >> 24) == 127;
    if (first.empty()) {
      char text[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &in, text, sizeof(text));
      first = text;
    }
  }
  freeaddrinfo(found);
  return loopback && !first.empty() ? first : "*";
}

std::string tcp_bind_endpoint(const std::string& host, std::uint16_t port) {
  return "tcp://" + bind_address(host) + ":" + std::to_string(port);
}

} // namespace metronome::messages
