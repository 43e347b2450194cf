#include "launcher/config_reader.hpp"

#include "messages/transport.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace metronome::launcher {

namespace detail {

namespace {

// --- hosts and ports -------------------------------------------------------

struct host_facts {
  bool resolved = false;
  bool local = false;    ///< this machine
  bool loopback = false; ///< reachable from this machine only
  std::string machine;   ///< identifies the machine, for port clashes
  std::string error;
};

std::vector<std::string> interface_addresses() {
  std::vector<std::string> out;
  ifaddrs* addrs = nullptr;
  if (getifaddrs(&addrs) != 0)
    return out;
  for (auto* a = addrs; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET)
      continue;
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr,
              text, sizeof(text));
    out.push_back(text);
  }
  freeifaddrs(addrs);
  return out;
}

host_facts examine_host(const std::string& host,
                        const std::vector<std::string>& mine) {
  host_facts f;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0) {
    f.error = rc == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(rc);
    return f;
  }
  std::set<std::string> addresses;
  f.resolved = true;
  f.loopback = true;
  for (auto* a = found; a != nullptr; a = a->ai_next) {
    auto in = reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr;
    auto value = ntohl(in.s_addr);
    bool loopback = (value >> 24) == 127 || value == INADDR_ANY;
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &in, text, sizeof(text));
    addresses.insert(text);
    f.loopback = f.loopback && loopback;
    f.local = f.local || loopback ||
              std::find(mine.begin(), mine.end(), text) != mine.end();
  }
  freeaddrinfo(found);
  f.machine = f.local ? "this machine" : *addresses.begin();
  return f;
}

// errno of binding `port` on the address a node on `host` binds, or 0.
int bind_error(const std::string& host, std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(port);
  auto address = messages::bind_address(host);
  if (address != "*" &&
      inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1)
    return 0;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return errno;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0
               ? 0
               : errno;
  ::close(fd);
  return rc;
}

std::string control_rule_hint(const actors::node_spec& spec, bool given) {
  if (given)
    return "give every node on one machine its own port and control_port";
  return "it has no 'control_port', so it takes port + 10000 (port - 10000 "
         "above 55535), " +
         std::to_string(spec.control_port) +
         "; give it one, e.g. control_port: " +
         std::to_string(spec.control_port == 65535 ? 1024
                                                   : spec.control_port + 1);
}

// Control endpoints bind 127.0.0.1 of their node's machine: each needs a
// port no other node of that machine uses for data or control. `taken`
// holds the data ports, by machine.
void check_control_ports(reader& r, const actors::topology& topo,
                         const std::vector<node_marks>& marks,
                         const std::vector<const host_facts*>& of,
                         std::map<std::string, std::size_t> taken,
                         const load_options& options) {
  std::map<std::string, std::size_t> controls;
  for (std::size_t i = 0; i < topo.nodes.size(); ++i) {
    const auto& m = marks[i];
    if (!m.control_ok || !m.host_ok)
      continue;
    const auto& spec = topo.nodes[i];
    auto machine = of[i] ? of[i]->machine : spec.host;
    auto own = taken.find(machine + ":" + std::to_string(spec.port));
    if (!m.control_given && own != taken.end() && own->second != i)
      continue; // its port clashes already, and so would its default
    auto key = machine + ":" + std::to_string(spec.control_port);
    auto label = node_label(spec, m.at);
    auto data = taken.find(key);
    auto [first, fresh] = controls.emplace(key, i);
    if (data != taken.end() || !fresh) {
      auto other = data != taken.end() ? data->second : first->second;
      const auto& o = topo.nodes[other];
      auto what = data != taken.end() ? "the port of " : "the control port of ";
      auto line = line_of(data != taken.end() ? marks[other].port
                                              : marks[other].control);
      r.problem(m.control,
                "control port clash: control port " +
                    std::to_string(spec.control_port) + " of " + label +
                    " is " + what + node_label(o, marks[other].at) + " (line " +
                    line + ")",
                control_rule_hint(spec, m.control_given));
      continue;
    }
    if (!options.check_ports_free || !m.control_given || !of[i] ||
        !of[i]->local)
      continue;
    if (bind_error("127.0.0.1", spec.control_port) == EADDRINUSE)
      r.problem(m.control,
                "control port " + std::to_string(spec.control_port) +
                    " on 127.0.0.1 is already in use",
                "another program, or a metronome job still running, listens "
                "on it; choose another control_port for " +
                    label);
  }
}

} // namespace

void check_hosts(reader& r, const actors::topology& topo,
                 const std::vector<node_marks>& marks,
                 const load_options& options) {
  auto mine = interface_addresses();
  std::map<std::string, host_facts> facts;
  std::vector<const host_facts*> of(topo.nodes.size(), nullptr);
  for (std::size_t i = 0; i < topo.nodes.size(); ++i) {
    const auto& host = topo.nodes[i].host;
    const auto& m = marks[i];
    if (!m.host_ok)
      continue;
    auto label = node_label(topo.nodes[i], m.at);
    if (host.empty()) {
      r.problem(m.host, "empty 'host' for " + label,
                "give a host name or IPv4 address, e.g. host: 10.0.0.5");
      continue;
    }
    if (host.find(':') != std::string::npos) {
      r.problem(m.host,
                "host " + in_quotes(host) + " of " + label +
                    " is not a host name or IPv4 address",
                "the transport speaks IPv4 only; write the host without "
                "scheme or port (the port has its own key), e.g. 127.0.0.1");
      continue;
    }
    auto it = facts.find(host);
    if (it == facts.end())
      it = facts.emplace(host, examine_host(host, mine)).first;
    if (!it->second.resolved) {
      r.problem(m.host, "cannot resolve host " + in_quotes(host),
                it->second.error + "; check the spelling, DNS or /etc/hosts "
                                   "(an IPv4 address is needed)");
      continue;
    }
    of[i] = &it->second;
  }

  // Loopback hosts are unreachable from nodes on other machines.
  std::size_t remote = topo.nodes.size();
  for (std::size_t i = 0; i < topo.nodes.size(); ++i)
    if (of[i] && !of[i]->local) {
      remote = i;
      break;
    }
  if (remote < topo.nodes.size()) {
    std::string suggestion;
    for (const auto& a : mine)
      if (a.rfind("127.", 0) != 0) {
        suggestion = ", e.g. " + a;
        break;
      }
    for (std::size_t i = 0; i < topo.nodes.size(); ++i) {
      if (!of[i] || !of[i]->loopback)
        continue;
      const auto& spec = topo.nodes[i];
      auto label = node_label(spec, marks[i].at);
      auto where = marks[i].host_given
                       ? label + " is on " + spec.host
                       : label + " has no 'host', so it is on " + spec.host;
      r.problem(
          marks[i].host, where + ", which nodes on other machines cannot reach",
          "this topology also has host " + in_quotes(topo.nodes[remote].host) +
              " (line " + line_of(marks[remote].host) + "); give " + label +
              " an address or name of this machine that the other "
              "hosts can reach" +
              suggestion);
    }
  }

  // A node listens on its port on every interface of its machine, or on the
  // loopback address its host resolves to; either way one machine, one port
  // per node.
  std::map<std::string, std::size_t> taken;
  for (std::size_t i = 0; i < topo.nodes.size(); ++i) {
    if (!marks[i].port_ok || !marks[i].host_ok)
      continue;
    const auto& spec = topo.nodes[i];
    auto machine = of[i] ? of[i]->machine : spec.host;
    auto key = machine + ":" + std::to_string(spec.port);
    auto [first, fresh] = taken.emplace(key, i);
    if (!fresh) {
      const auto& other = topo.nodes[first->second];
      bool same_text = other.host == spec.host;
      r.problem(marks[i].port,
                "port clash: " + spec.host + ":" + std::to_string(spec.port) +
                    " is already used by " +
                    node_label(other, marks[first->second].at) + " (line " +
                    line_of(marks[first->second].port) + ")",
                std::string(same_text ? ""
                            : of[i] && of[i]->local
                                ? "127.0.0.1, localhost, 0.0.0.0 and this "
                                  "machine's own addresses are one machine; "
                                : spec.host + " and " + other.host +
                                      " are the same machine; ") +
                    "give every node on one machine its own port");
      continue;
    }
    if (!options.check_ports_free || !of[i] || !of[i]->local)
      continue;
    int err = bind_error(spec.host, spec.port);
    if (err == EADDRINUSE)
      r.problem(marks[i].port,
                "port " + std::to_string(spec.port) + " on " + spec.host +
                    " is already in use",
                "another program, or a metronome job still running, listens "
                "on it; stop it or choose another port for " +
                    node_label(spec, marks[i].at));
    else if (err != 0)
      r.problem(marks[i].port,
                "cannot listen on port " + std::to_string(spec.port) + " on " +
                    spec.host + ": " + std::strerror(err),
                err == EACCES ? "ports below 1024 need privileges; choose a "
                                "port of 1024 or more"
                              : "choose another port");
  }
  check_control_ports(r, topo, marks, of, taken, options);
}

} // namespace detail

bool is_local_host(const std::string& host) {
  return detail::examine_host(host, detail::interface_addresses()).local;
}

} // namespace metronome::launcher
