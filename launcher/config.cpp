#include "launcher/config.hpp"

#include "algorithms/stragglers.hpp"

#include "messages/codec.hpp"

#include <yaml-cpp/yaml.h>
#include <zlib.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>

namespace metronome::launcher {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> role_kinds = {"coordinator", "server", "worker"};

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines)
    out += l + '\n';
  return out;
}

std::string comma_list(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words)
    out += (out.empty() ? "" : ", ") + w;
  return out;
}

std::string in_quotes(const std::string& s) {
  return "'" + s + "'";
}

std::string line_of(const YAML::Mark& m) {
  return std::to_string(m.line + 1);
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min(
          {row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The word of `known` at most two edits from `word`, or "".
std::string closest(const std::string& word,
                    const std::vector<std::string>& known) {
  std::string best;
  std::size_t best_d = 3;
  for (const auto& k : known) {
    auto d = edit_distance(word, k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best;
}

// Why `path` cannot be read as a file, or "" when it can.
std::string unreadable(const std::string& path) {
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (!fs::exists(st))
    return "no such file";
  if (fs::is_directory(st))
    return "it is a directory";
  if (::access(path.c_str(), R_OK) != 0)
    return std::strerror(errno);
  return {};
}

struct problem_line {
  int line = -1;
  int column = -1;
  std::string text;
};

// Collects problems with their positions while reading one file.
class reader {
public:
  explicit reader(std::string file)
      : file_(std::move(file))
      , dir_(fs::absolute(file_).parent_path()) {}

  void problem(const YAML::Mark& m, const std::string& what,
               const std::string& hint) {
    std::string text = file_;
    if (m.line >= 0)
      text += ":" + line_of(m) + ":" + std::to_string(m.column + 1);
    text += ": " + what + " (" + hint + ")";
    problems_.push_back({m.line, m.column, std::move(text)});
  }

  void problem(const YAML::Node& at, const std::string& what,
               const std::string& hint) {
    problem(at.Mark(), what, hint);
  }

  // Where `key` itself is written in `map`, or where `map` starts.
  static YAML::Mark key_mark(const YAML::Node& map, const std::string& key) {
    if (map.IsMap())
      for (const auto& kv : map)
        if (kv.first.IsScalar() && kv.first.Scalar() == key)
          return kv.first.Mark();
    return map.Mark();
  }

  // Reports keys of `map` not in `known` (suggesting the closest one) and
  // duplicate keys; false when `map` is not a mapping at all.
  bool check_keys(const YAML::Node& map, const std::string& where,
                  const std::vector<std::string>& known, const YAML::Mark& at) {
    if (!map.IsMap()) {
      problem(map.IsNull() ? at : map.Mark(),
              where + (map.IsNull() ? " is empty" : " must be a mapping"),
              "indent 'key: value' lines under it; valid keys: " +
                  comma_list(known));
      return false;
    }
    std::map<std::string, YAML::Mark> seen;
    for (const auto& kv : map) {
      auto key = kv.first.as<std::string>("");
      auto [first, fresh] = seen.emplace(key, kv.first.Mark());
      if (!fresh) {
        problem(kv.first, "duplicate key '" + key + "' in " + where,
                "first at line " + line_of(first->second) +
                    "; keep one of them");
        continue;
      }
      if (std::find(known.begin(), known.end(), key) != known.end())
        continue;
      auto best = closest(key, known);
      problem(kv.first, "unknown key '" + key + "' in " + where,
              best.empty() ? "valid keys: " + comma_list(known)
                           : "did you mean '" + best + "'?");
    }
    return true;
  }

  // The text of map[key] if it is present and a single value; reports
  // empty values, lists and mappings.
  std::optional<std::string> scalar(const YAML::Node& map,
                                    const std::string& key,
                                    const std::string& example) {
    auto node = map[key];
    if (!node)
      return std::nullopt;
    auto hint = "e.g. " + key + ": " + example;
    if (node.IsNull()) {
      problem(key_mark(map, key), in_quotes(key) + " is empty", hint);
      return std::nullopt;
    }
    if (!node.IsScalar()) {
      problem(node,
              in_quotes(key) + " must be a single value, not a " +
                  (node.IsSequence() ? "list" : "mapping"),
              hint);
      return std::nullopt;
    }
    return node.Scalar();
  }

  bool text(const YAML::Node& map, const std::string& key, std::string& out,
            const std::string& example) {
    auto value = scalar(map, key, example);
    if (value)
      out = *value;
    return value.has_value();
  }

  // A whole number in [min, max] written in decimal.
  template <class T>
  bool whole(const YAML::Node& map, const std::string& key, T& out,
             std::uint64_t min, std::uint64_t max, const std::string& example) {
    auto value = scalar(map, key, example);
    if (!value)
      return false;
    std::string_view s = *value;
    if (!s.empty() && s.front() == '+')
      s.remove_prefix(1);
    bool digits = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
      return c >= '0' && c <= '9';
    });
    std::uint64_t v = 0;
    bool parsed =
        digits &&
        std::from_chars(s.data(), s.data() + s.size(), v).ec == std::errc();
    if (parsed && v >= min && v <= max) {
      out = static_cast<T>(v);
      return true;
    }
    std::string range;
    if (max <= 0xffffffffu)
      range = "a whole number in " + std::to_string(min) + ".." +
              std::to_string(max);
    else
      range =
          min == 0 ? "a whole number (0 or more)" : "a positive whole number";
    auto what =
        in_quotes(key) + " must be " + range + ", not " + in_quotes(*value);
    if (digits && !parsed)
      what = in_quotes(key) + " is too large: " + *value;
    problem(map[key], what, "e.g. " + key + ": " + example);
    return false;
  }

  bool positive_real(const YAML::Node& map, const std::string& key, float& out,
                     const std::string& example) {
    auto value = scalar(map, key, example);
    if (!value)
      return false;
    std::string_view s = *value;
    if (!s.empty() && s.front() == '+')
      s.remove_prefix(1);
    double v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (!s.empty() && ec == std::errc() && end == s.data() + s.size() &&
        std::isfinite(v) && v > 0 && v <= std::numeric_limits<float>::max() &&
        static_cast<float>(v) > 0) {
      out = static_cast<float>(v);
      return true;
    }
    problem(map[key],
            in_quotes(key) + " must be a positive finite number, not " +
                in_quotes(*value),
            "e.g. " + key + ": " + example);
    return false;
  }

  // One of `valid`; `notes` gives hints for known wrong values.
  bool choice(const YAML::Node& map, const std::string& key, std::string& out,
              const std::vector<std::string>& valid, const std::string& what,
              const std::map<std::string, std::string>& notes = {}) {
    auto value = scalar(map, key, valid.front());
    if (!value)
      return false;
    if (std::find(valid.begin(), valid.end(), *value) != valid.end()) {
      out = *value;
      return true;
    }
    std::string hint = "valid: " + comma_list(valid);
    auto best = closest(*value, valid);
    if (auto n = notes.find(*value); n != notes.end())
      hint = n->second + "; " + hint;
    else if (!best.empty())
      hint = "did you mean '" + best + "'? " + hint;
    problem(map[key], "unknown " + what + " " + in_quotes(*value), hint);
    return false;
  }

  // `path` made absolute against the topology file's directory.
  std::string resolve(const std::string& path) const {
    if (path.empty() || fs::path(path).is_absolute())
      return path;
    return (dir_ / path).lexically_normal().string();
  }

  std::vector<std::string> sorted_problems() const {
    auto all = problems_;
    std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    std::vector<std::string> out;
    for (auto& p : all)
      out.push_back(std::move(p.text));
    return out;
  }

  bool ok() const { return problems_.empty(); }
  const fs::path& dir() const { return dir_; }

private:
  std::string file_;
  fs::path dir_;
  std::vector<problem_line> problems_;
};

// --- cluster ---------------------------------------------------------------

// Where the fields of one node were written, for later checks.
struct node_marks {
  YAML::Mark at;   ///< the node entry
  YAML::Mark host; ///< its host, or `at` when the default is used
  YAML::Mark port;
  bool host_given = false;
  bool host_ok = false;
  bool port_ok = false;
};

bool valid_node_name(const std::string& name) {
  return !name.empty() &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '-' || c == '_' || c == '.';
         });
}

std::string node_label(const actors::node_spec& spec, const YAML::Mark& at) {
  return spec.name.empty() ? "the node at line " + line_of(at)
                           : "node " + in_quotes(spec.name);
}

void read_roles(reader& r, const YAML::Node& n, actors::node_spec& spec,
                const YAML::Mark& at,
                std::map<std::string, YAML::Mark>& actors) {
  const std::string example = "roles: [server/0, worker/0]";
  auto roles = n["roles"];
  if (!roles) {
    r.problem(at, node_label(spec, at) + " has no 'roles'",
              "list the actors it hosts, e.g. " + example);
    return;
  }
  if (!roles.IsSequence() || roles.size() == 0) {
    r.problem(roles,
              "'roles' of " + node_label(spec, at) +
                  " must be a non-empty list",
              "e.g. " + example);
    return;
  }
  for (const auto& role : roles) {
    auto name = role.IsScalar() ? role.Scalar() : std::string();
    std::string kind;
    int index = 0;
    bool parsed = messages::parse_actor_name(name, kind, index);
    bool known = parsed && std::find(role_kinds.begin(), role_kinds.end(),
                                     kind) != role_kinds.end();
    if (!known) {
      std::string hint = "roles are written role/index with role "
                         "coordinator, server or worker, e.g. worker/0";
      auto best = closest(parsed ? kind : name, role_kinds);
      if (parsed && !best.empty())
        hint = "did you mean '" + best + "/" + std::to_string(index) + "'? " +
               hint;
      r.problem(role, "bad role " + in_quotes(role.IsScalar() ? name : "?"),
                hint);
      continue;
    }
    auto canonical = kind + "/" + std::to_string(index);
    if (canonical != name) {
      r.problem(role, "bad role " + in_quotes(name),
                "write the index without leading zeros: " + canonical);
      continue;
    }
    auto [first, fresh] = actors.emplace(name, role.Mark());
    if (!fresh) {
      r.problem(role, "actor " + in_quotes(name) + " appears twice",
                "first at line " + line_of(first->second) +
                    "; every actor runs on exactly one node");
      continue;
    }
    spec.actors.push_back(name);
  }
}

void check_role_counts(reader& r, const YAML::Mark& nodes,
                       const std::map<std::string, YAML::Mark>& actors) {
  std::map<std::string, std::map<int, YAML::Mark>> by_kind;
  for (const auto& [name, mark] : actors) {
    std::string kind;
    int index = 0;
    messages::parse_actor_name(name, kind, index);
    by_kind[kind][index] = mark;
  }
  const std::map<std::string, std::string> purpose = {
      {"coordinator", "it drives the job and evaluates the model"},
      {"server", "servers hold the parameters"},
      {"worker", "workers compute the gradients"}};
  for (const auto& kind : role_kinds) {
    const auto& indices = by_kind[kind];
    if (indices.empty()) {
      r.problem(nodes, "the cluster has no " + kind,
                "add " + kind + "/0 to the roles of a node; " +
                    purpose.at(kind));
      continue;
    }
    auto n = static_cast<int>(indices.size());
    if (kind == "coordinator" && n > 1) {
      r.problem(std::next(indices.begin())->second,
                "only one coordinator is allowed, found " + std::to_string(n),
                "keep coordinator/0 and remove the others");
      continue;
    }
    auto beyond = indices.upper_bound(n - 1);
    for (int i = 0; i < n; ++i) {
      if (indices.count(i))
        continue;
      auto name = kind + "/" + std::to_string(i);
      r.problem(beyond->second, name + " is missing",
                n == 1 ? "a single " + kind + " must be " + kind + "/0"
                       : "with " + std::to_string(n) + " " + kind +
                             "s the indices must be 0.." +
                             std::to_string(n - 1) + " without gaps");
      ++beyond;
    }
  }
}

void read_cluster(reader& r, const YAML::Node& cluster, const YAML::Mark& at,
                  actors::topology& topo, std::vector<node_marks>& marks) {
  if (!r.check_keys(cluster, "cluster", {"nodes"}, at))
    return;
  auto nodes = cluster["nodes"];
  if (!nodes) {
    r.problem(at, "cluster needs a list 'nodes'",
              "one '- name: ...' entry per node process");
    return;
  }
  auto nodes_at = reader::key_mark(cluster, "nodes");
  if (!nodes.IsSequence() || nodes.size() == 0) {
    r.problem(nodes.IsNull() ? nodes_at : nodes.Mark(),
              "'nodes' must be a non-empty list",
              "one '- name: ...' entry per node process, each with name, "
              "host, port and roles");
    return;
  }
  std::map<std::string, YAML::Mark> names;
  std::map<std::string, YAML::Mark> actors;
  for (const auto& n : nodes) {
    if (!r.check_keys(n, "a node", {"name", "host", "port", "roles"}, n.Mark()))
      continue;
    actors::node_spec spec;
    node_marks m;
    m.at = n.Mark();
    if (!n["name"]) {
      r.problem(n, "node without a 'name'",
                "give every node a unique name, e.g. name: w0");
    } else if (r.text(n, "name", spec.name, "w0")) {
      if (!valid_node_name(spec.name)) {
        r.problem(n["name"], "bad node name " + in_quotes(spec.name),
                  "use letters, digits, '-', '_' and '.', e.g. w0");
        spec.name.clear();
      } else if (auto [first, fresh] = names.emplace(spec.name, n.Mark());
                 !fresh) {
        r.problem(n["name"], "duplicate node name " + in_quotes(spec.name),
                  "first defined at line " + line_of(first->second) +
                      "; node names must be unique");
      }
    }
    m.host = m.at;
    if (n["host"]) {
      m.host = n["host"].Mark();
      m.host_given = true;
      m.host_ok = r.text(n, "host", spec.host, "10.0.0.5");
    } else {
      m.host_ok = true;
    }
    if (!n["port"]) {
      r.problem(n, node_label(spec, m.at) + " has no 'port'",
                "every node needs a TCP port in 1..65535, e.g. port: 47100");
    } else {
      m.port = n["port"].Mark();
      m.port_ok = r.whole(n, "port", spec.port, 1, 65535, "47100");
    }
    read_roles(r, n, spec, m.at, actors);
    topo.nodes.push_back(spec);
    marks.push_back(m);
  }
  check_role_counts(r, nodes_at, actors);
}

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

// errno of binding `port` on every interface as a node does, or 0.
int bind_error(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return errno;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(port);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0
               ? 0
               : errno;
  ::close(fd);
  return rc;
}

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

  // A node listens on its port on every interface of its machine.
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
                                  "machine's own addresses are one machine "
                                  "and a node listens on every interface; "
                                : spec.host + " and " + other.host +
                                      " are the same machine; ") +
                    "give every node on one machine its own port");
      continue;
    }
    if (!options.check_ports_free || !of[i] || !of[i]->local)
      continue;
    int err = bind_error(spec.port);
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
}

// --- data ------------------------------------------------------------------

struct idx_header {
  std::string error; ///< empty when the header was read
  std::uint32_t magic = 0;
  std::uint32_t count = 0;
  std::uint32_t rows = 0;
  std::uint32_t cols = 0;
};

constexpr std::uint32_t idx_images_magic = 0x00000803;
constexpr std::uint32_t idx_labels_magic = 0x00000801;

// Reads the IDX header of `path`, gzip-compressed or not.
idx_header read_idx_header(const std::string& path, bool images) {
  idx_header h;
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) {
    h.error = std::strerror(errno);
    return h;
  }
  unsigned char b[16] = {};
  int want = images ? 16 : 8;
  int got = gzread(f, b, static_cast<unsigned>(want));
  if (got < 0) {
    int code = 0;
    h.error = gzerror(f, &code);
  }
  gzclose(f);
  if (got < 0)
    return h;
  auto be32 = [&](int at) {
    return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) |
           (std::uint32_t{b[at + 2]} << 8) | std::uint32_t{b[at + 3]};
  };
  h.magic = be32(0);
  h.count = be32(4);
  h.rows = be32(8);
  h.cols = be32(12);
  if (got < want)
    h.error = "it ends after " + std::to_string(got) + " bytes, inside the " +
              std::to_string(want) + "-byte IDX header";
  return h;
}

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

bool parse_number(std::string_view s, double& out) {
  if (!s.empty() && s.front() == '+')
    s.remove_prefix(1);
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size() &&
         std::isfinite(out);
}

// Why `line` is not a LIBSVM sample ("label index:value ..."), or "".
std::string libsvm_problem(std::string_view line) {
  std::vector<std::string_view> tokens;
  for (std::size_t pos = 0; pos < line.size();) {
    while (pos < line.size() && is_blank(line[pos]))
      ++pos;
    auto start = pos;
    while (pos < line.size() && !is_blank(line[pos]))
      ++pos;
    if (pos > start)
      tokens.push_back(line.substr(start, pos - start));
  }
  double label = 0;
  if (!parse_number(tokens.front(), label) ||
      (label != 1 && label != -1 && label != 0))
    return "bad label '" + std::string(tokens.front()) +
           "' (expected +1, 1, -1 or 0)";
  for (std::size_t i = 1; i < tokens.size(); ++i) {
    auto tok = tokens[i];
    auto colon = std::min(tok.find(':'), tok.size());
    std::uint64_t index = 0;
    double value = 0;
    auto [end, ec] = std::from_chars(tok.data(), tok.data() + colon, index);
    if (colon == tok.size() || ec != std::errc() || end != tok.data() + colon ||
        index == 0 || !parse_number(tok.substr(colon + 1), value))
      return "bad feature '" + std::string(tok) +
             "' (expected index:value with an index of 1 or more)";
  }
  return {};
}

struct libsvm_scan {
  std::string error;       ///< first problem, with its line
  std::size_t samples = 0; ///< counted up to the requested number
  bool complete = false;   ///< the whole file was read
};

// Checks the first sample of a LIBSVM file and counts up to `enough`.
libsvm_scan scan_libsvm(const std::string& path, std::size_t enough) {
  libsvm_scan s;
  std::ifstream in(path, std::ios::binary);
  std::string line;
  std::size_t line_no = 0;
  while (s.samples < enough && std::getline(in, line)) {
    ++line_no;
    std::string_view text = line;
    text = text.substr(0, text.find('#'));
    if (std::all_of(text.begin(), text.end(), is_blank))
      continue;
    if (s.samples == 0) {
      if (auto why = libsvm_problem(text); !why.empty()) {
        s.error = "line " + std::to_string(line_no) + ": " + why;
        return s;
      }
    }
    ++s.samples;
  }
  s.complete = s.samples < enough;
  if (s.samples == 0)
    s.error = "it has no samples";
  return s;
}

using data_paths = std::map<std::string, std::string*>;

// Checks the IDX headers of the `readable` files; returns the number of
// training samples when it is known.
std::optional<std::size_t> check_idx(reader& r, const YAML::Node& data,
                                     const data_paths& fields,
                                     const std::set<std::string>& readable) {
  std::optional<std::size_t> samples;
  std::map<std::string, idx_header> headers;
  for (const std::string key :
       {"train_images", "train_labels", "test_images", "test_labels"}) {
    if (!readable.count(key))
      continue;
    bool images = key.find("images") != std::string::npos;
    auto h = read_idx_header(*fields.at(key), images);
    auto what = in_quotes(key) + ": " + in_quotes(*fields.at(key));
    auto expected = images ? idx_images_magic : idx_labels_magic;
    if (h.error.empty() && h.magic != expected) {
      auto partner = images ? key.substr(0, key.find('_')) + "_labels"
                            : key.substr(0, key.find('_')) + "_images";
      r.problem(data[key],
                what + " is not an IDX " + (images ? "images" : "labels") +
                    " file (magic number " + hex32(h.magic) + ", expected " +
                    hex32(expected) + ")",
                h.magic == (images ? idx_labels_magic : idx_images_magic)
                    ? "that is an IDX " +
                          std::string(images ? "labels" : "images") +
                          " file; did you swap " + key + " and " + partner + "?"
                    : "give an IDX file such as " +
                          std::string(images ? "train-images-idx3-ubyte.gz"
                                             : "train-labels-idx1-ubyte.gz") +
                          " (gzip-compressed or not)");
      continue;
    }
    if (h.error.empty() &&
        (h.count == 0 || (images && (h.rows == 0 || h.cols == 0))))
      h.error = images ? "its header declares " + std::to_string(h.count) +
                             " images of " + std::to_string(h.rows) + "x" +
                             std::to_string(h.cols) + " pixels"
                       : "its header declares 0 labels";
    if (!h.error.empty()) {
      r.problem(data[key], what + " has an unreadable IDX header: " + h.error,
                "the file is truncated, corrupt or not an IDX file");
      continue;
    }
    headers[key] = h;
  }
  for (const std::string set : {"train", "test"}) {
    auto images = headers.find(set + "_images");
    auto labels = headers.find(set + "_labels");
    if (images == headers.end() || labels == headers.end())
      continue;
    if (images->second.count != labels->second.count) {
      r.problem(data[set + "_labels"],
                in_quotes(set + "_labels") + " has " +
                    std::to_string(labels->second.count) + " labels but " +
                    in_quotes(set + "_images") + " has " +
                    std::to_string(images->second.count) + " images",
                "pair each images file with its own labels file");
      continue;
    }
    if (set == "train")
      samples = images->second.count;
  }
  auto train = headers.find("train_images");
  auto test = headers.find("test_images");
  if (train != headers.end() && test != headers.end() &&
      (train->second.rows != test->second.rows ||
       train->second.cols != test->second.cols))
    r.problem(data["test_images"],
              "'test_images' holds " + std::to_string(test->second.rows) + "x" +
                  std::to_string(test->second.cols) +
                  " images but 'train_images' holds " +
                  std::to_string(train->second.rows) + "x" +
                  std::to_string(train->second.cols) + " images",
              "train and test images must have the same size");
  return samples;
}

// Checks the first sample of the `readable` LIBSVM files; returns the number
// of training samples when there are fewer than `workers`.
std::optional<std::size_t> check_libsvm(reader& r, const YAML::Node& data,
                                        const data_paths& fields,
                                        const std::set<std::string>& readable,
                                        std::size_t workers) {
  std::optional<std::size_t> samples;
  for (const std::string key : {"train", "test"}) {
    if (!readable.count(key))
      continue;
    auto scan =
        scan_libsvm(*fields.at(key),
                    key == "train" ? std::max<std::size_t>(1, workers) : 1);
    if (!scan.error.empty()) {
      r.problem(data[key],
                in_quotes(key) + ": " + in_quotes(*fields.at(key)) +
                    " is not a LIBSVM file: " + scan.error,
                "each sample is a line 'label index:value ...' with label "
                "+1, 1, -1 or 0 and feature indices from 1; '#' starts a "
                "comment");
      continue;
    }
    if (key == "train" && scan.complete)
      samples = scan.samples;
  }
  return samples;
}

void read_data(reader& r, const YAML::Node& job, const YAML::Mark& job_at,
               actors::topology& topo) {
  auto& spec = topo.job;
  auto& d = spec.data;
  auto data = job["data"];
  if (!data) {
    r.problem(job_at, "job needs 'data'",
              "add data: with format and the training and test files");
    return;
  }
  const std::vector<std::string> idx_keys = {"train_images", "train_labels",
                                             "test_images", "test_labels"};
  const std::vector<std::string> libsvm_keys = {"train", "test"};
  if (!r.check_keys(data, "job.data",
                    {"format", "train_images", "train_labels", "test_images",
                     "test_labels", "train", "test", "train_limit",
                     "test_limit"},
                    reader::key_mark(job, "data")))
    return;
  bool format_ok =
      r.choice(data, "format", d.format, {"idx", "libsvm"}, "data format");
  if (!data["format"])
    format_ok = true;
  const std::string fashion = "/usr/share/datasets/fashion-mnist/";
  const std::map<std::string, std::string> example = {
      {"train_images", fashion + "train-images-idx3-ubyte.gz"},
      {"train_labels", fashion + "train-labels-idx1-ubyte.gz"},
      {"test_images", fashion + "t10k-images-idx3-ubyte.gz"},
      {"test_labels", fashion + "t10k-labels-idx1-ubyte.gz"},
      {"train", "data/train.libsvm"},
      {"test", "data/test.libsvm"}};
  data_paths fields = {{"train_images", &d.train_images},
                       {"train_labels", &d.train_labels},
                       {"test_images", &d.test_images},
                       {"test_labels", &d.test_labels},
                       {"train", &d.train},
                       {"test", &d.test}};
  for (auto& [key, field] : fields) {
    r.text(data, key, *field, example.at(key));
    *field = r.resolve(*field);
  }
  bool train_limit_ok =
      r.whole(data, "train_limit", d.train_limit, 0,
              std::numeric_limits<std::size_t>::max(), "10000");
  r.whole(data, "test_limit", d.test_limit, 0,
          std::numeric_limits<std::size_t>::max(), "1000");
  if (!format_ok)
    return;

  bool idx = d.format == "idx";
  const auto& wanted = idx ? idx_keys : libsvm_keys;
  const auto& other = idx ? libsvm_keys : idx_keys;
  for (const auto& key : other)
    if (data[key])
      r.problem(data[key],
                in_quotes(key) + " belongs to format " +
                    (idx ? "libsvm" : "idx") + ", but the format is " +
                    d.format,
                idx ? "set format: libsvm, or give train_images, "
                      "train_labels, test_images and test_labels"
                    : "set format: idx, or give train and test");
  if (spec.algorithm == "logreg" && idx)
    r.problem(job["algorithm"] ? job["algorithm"].Mark() : job.Mark(),
              "logreg is binary; it needs libsvm data",
              "set data.format: libsvm with train and test files, or use "
              "softmax or mlp for idx data");

  // Files: present and readable.
  std::set<std::string> readable;
  for (const auto& key : wanted) {
    const auto& path = *fields[key];
    if (!data[key]) {
      r.problem(reader::key_mark(job, "data"),
                "job.data needs " + in_quotes(key) + " for format " + d.format,
                "e.g. " + key + ": " + example.at(key));
      continue;
    }
    if (path.empty())
      continue;
    auto why = unreadable(path);
    if (why.empty()) {
      readable.insert(key);
      continue;
    }
    auto given = data[key].Scalar();
    std::string hint = "check the path";
    if (path.rfind(fashion, 0) == 0)
      hint = "install the Debian package dataset-fashion-mnist";
    else if (fs::path(given).is_relative())
      hint = "relative paths start at the directory of the topology file, " +
             r.dir().string();
    r.problem(data[key],
              "cannot read data file " + in_quotes(path) + ": " + why, hint);
  }

  auto workers = topo.count("worker");
  std::string samples_key = idx ? "train_images" : "train";
  auto samples = idx ? check_idx(r, data, fields, readable)
                     : check_libsvm(r, data, fields, readable, workers);

  bool limited = train_limit_ok && d.train_limit > 0 &&
                 (!samples || d.train_limit < *samples);
  if (limited)
    samples = d.train_limit;
  if (samples && workers > *samples && data[samples_key])
    r.problem(limited ? data["train_limit"] : data[samples_key],
              std::to_string(workers) + " workers but only " +
                  std::to_string(*samples) + " training sample" +
                  (*samples == 1 ? "" : "s") +
                  (limited ? " (train_limit)" : ""),
              "every worker needs at least one sample of its own; " +
                  std::string(limited ? "raise train_limit" : "add data") +
                  " or use fewer workers");
}

// job.stragglers: one rule or a list of rules (see docs/topology.md).
void read_stragglers(reader& r, const YAML::Node& job,
                     actors::topology& topo) {
  auto node = job["stragglers"];
  if (!node || node.IsNull())
    return;
  std::vector<YAML::Node> items;
  if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i)
      items.push_back(node[i]);
  } else if (node.IsMap()) {
    items.push_back(node);
  } else {
    r.problem(node, "'stragglers' must be a rule or a list of rules",
              "e.g. stragglers: [{model: constant, factor: 4, workers: [0]}]");
    return;
  }
  bool ok = true;
  for (const auto& item : items) {
    if (!r.check_keys(item, "a straggler rule",
                      {"model", "workers", "factor", "mu", "sigma", "scale",
                       "alpha", "groups", "own_share", "period",
                       "slow_iterations", "trace"},
                      item.Mark())) {
      ok = false;
      continue;
    }
    algorithms::straggler_spec spec;
    auto get = [&](const char* key, auto& out) {
      auto v = item[key];
      if (!v)
        return;
      try {
        out = v.as<std::decay_t<decltype(out)>>();
      } catch (const YAML::Exception&) {
        r.problem(v,
                  std::string("'") + key +
                      "' of a straggler rule has the wrong type",
                  "see the stragglers table in docs/topology.md");
        ok = false;
      }
    };
    get("model", spec.model);
    get("workers", spec.workers);
    get("factor", spec.factor);
    get("mu", spec.mu);
    get("sigma", spec.sigma);
    get("scale", spec.scale);
    get("alpha", spec.alpha);
    get("groups", spec.groups);
    get("own_share", spec.own_share);
    get("period", spec.period);
    get("slow_iterations", spec.slow_iterations);
    get("trace", spec.trace);
    if (!spec.trace.empty() && fs::path(spec.trace).is_relative())
      spec.trace = (r.dir() / spec.trace).lexically_normal().string();
    topo.job.stragglers.push_back(spec);
  }
  if (!ok)
    return;
  try {
    algorithms::make_straggler_model(
        topo.job.stragglers, std::max<std::size_t>(1, topo.count("worker")),
        topo.job.seed);
  } catch (const std::exception& e) {
    r.problem(node, e.what(), "see the stragglers table in docs/topology.md");
  }
}

void read_job(reader& r, const YAML::Node& job, const YAML::Mark& at,
              actors::topology& topo) {
  if (!r.check_keys(job, "job",
                    {"algorithm", "hidden", "data", "consistency", "staleness",
                     "epochs", "iterations", "batch_size", "learning_rate",
                     "seed", "stragglers"},
                    at))
    return;
  auto& spec = topo.job;
  const auto any = std::numeric_limits<std::uint64_t>::max();
  r.choice(job, "algorithm", spec.algorithm, {"softmax", "mlp", "logreg"},
           "algorithm");
  r.choice(job, "consistency", spec.consistency,
           {"bsp", "ssp", "essp", "async"}, "consistency model",
           {{"asp", "did you mean 'async'?"}});
  if (r.whole(job, "staleness", spec.staleness, 0, 1000000, "3") &&
      spec.consistency != "ssp" && spec.consistency != "essp")
    r.problem(job["staleness"],
              "'staleness' applies only to consistency ssp or essp",
              "set 'consistency: ssp' or remove 'staleness'");
  r.whole(job, "hidden", spec.hidden, 1, any, "128");
  r.whole(job, "epochs", spec.epochs, 1, any, "10");
  r.whole(job, "iterations", spec.iterations, 0, any, "1000");
  r.whole(job, "batch_size", spec.batch_size, 1, any, "32");
  r.positive_real(job, "learning_rate", spec.learning_rate, "0.1");
  r.whole(job, "seed", spec.seed, 0, any, "1");
  read_data(r, job, at, topo);
  read_stragglers(r, job, topo);
}

// --- options ---------------------------------------------------------------

void read_options(reader& r, const YAML::Node& options, const YAML::Mark& at,
                  actors::topology& topo) {
  if (options.IsNull())
    return;
  if (!r.check_keys(options, "options",
                    {"log_dir", "metrics_dir", "parameters_out",
                     "remote_command", "keys", "stragglers"},
                    at))
    return;
  auto& o = topo.options;
  for (auto [key, field] :
       {std::pair{"log_dir", &o.log_dir}, {"metrics_dir", &o.metrics_dir}}) {
    std::error_code ec;
    if (r.text(options, key, *field, std::string("runs/") + key) &&
        !field->empty() && fs::exists(*field, ec) &&
        !fs::is_directory(*field, ec))
      r.problem(options[key],
                in_quotes(key) + " is " + in_quotes(*field) +
                    ", which is a file, not a directory",
                "give a directory; it is created when missing");
  }
  std::error_code ec;
  if (r.text(options, "parameters_out", o.parameters_out, "runs/params.f32") &&
      !o.parameters_out.empty() && fs::is_directory(o.parameters_out, ec))
    r.problem(options["parameters_out"],
              "'parameters_out' is " + in_quotes(o.parameters_out) +
                  ", which is a directory",
              "give a file path, e.g. parameters_out: runs/params.f32");
  const std::string ssh = "ssh -o BatchMode=yes {host}";
  if (r.text(options, "remote_command", o.remote_command, ssh) &&
      o.remote_command.find("{host}") == std::string::npos)
    r.problem(options["remote_command"],
              "'remote_command' does not contain {host}",
              "launch replaces {host} with the host of each node on another "
              "machine, e.g. remote_command: " +
                  ssh);
  if (auto keys = options["keys"]; keys && !keys.IsNull()) {
    auto keys_at = reader::key_mark(options, "keys");
    if (r.check_keys(keys, "options.keys", {"public_key", "secret_key"},
                     keys_at)) {
      for (auto [key, field] : {std::pair{"public_key", &o.keys.public_key},
                                {"secret_key", &o.keys.secret_key}}) {
        if (!keys[key]) {
          r.problem(keys_at, std::string("options.keys needs '") + key + "'",
                    "give both public_key and secret_key, or remove keys");
          continue;
        }
        if (!r.text(keys, key, *field, std::string("keys/node.") + key))
          continue;
        *field = r.resolve(*field);
        auto why = field->empty() ? "empty path" : unreadable(*field);
        if (!why.empty())
          r.problem(keys[key],
                    "cannot read key file " + in_quotes(*field) + ": " + why,
                    "relative paths start at the directory of the topology "
                    "file; create the key pair first or fix the path");
      }
    }
  }
  if (auto s = options["stragglers"])
    r.problem(s, "'stragglers' belongs under 'job', not 'options'",
              "move it into the job section");
}

} // namespace

bool is_local_host(const std::string& host) {
  return examine_host(host, interface_addresses()).local;
}

config_error::config_error(std::vector<std::string> problems)
    : std::runtime_error(join(problems))
    , problems_(std::move(problems)) {}

actors::topology load_topology(const std::string& path,
                               const load_options& options) {
  reader r(path);
  actors::topology topo;
  topo.source = path;
  if (auto why = unreadable(path); !why.empty())
    throw config_error({path + ": cannot read the topology file: " + why +
                        " (check the path)"});
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    r.problem(e.mark, "YAML syntax error: " + e.msg,
              "check indentation (spaces, not tabs), colons, quotes and "
              "brackets here and on the lines before");
    throw config_error(r.sorted_problems());
  }
  YAML::Mark start;
  start.line = 0;
  start.column = 0;
  if (root.IsNull()) {
    r.problem(start, "the topology file is empty",
              "it needs 'cluster' and 'job'; see configs/quickstart.yaml");
    throw config_error(r.sorted_problems());
  }
  if (!root.IsMap()) {
    r.problem(root,
              "the topology must be a mapping with keys cluster, job "
              "and options",
              "see configs/quickstart.yaml");
    throw config_error(r.sorted_problems());
  }
  try {
    r.check_keys(root, "the topology", {"cluster", "job", "options"}, start);
    std::vector<node_marks> marks;
    if (root["cluster"])
      read_cluster(r, root["cluster"], reader::key_mark(root, "cluster"), topo,
                   marks);
    else
      r.problem(start, "missing 'cluster'",
                "add cluster: with a list 'nodes' of the node processes");
    check_hosts(r, topo, marks, options);
    if (root["job"])
      read_job(r, root["job"], reader::key_mark(root, "job"), topo);
    else
      r.problem(start, "missing 'job'",
                "add job: with algorithm, data and the training parameters");
    if (root["options"])
      read_options(r, root["options"], reader::key_mark(root, "options"), topo);
  } catch (const YAML::Exception& e) {
    // Shapes the checks above did not foresee still get a position.
    r.problem(e.mark, "unexpected value: " + e.msg,
              "compare this part with docs/topology.md");
  }
  if (!r.ok())
    throw config_error(r.sorted_problems());
  return topo;
}

} // namespace metronome::launcher
