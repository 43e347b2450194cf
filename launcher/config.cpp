#include "launcher/config.hpp"

#include "messages/codec.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace metronome::launcher {

namespace {

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines)
    out += l + '\n';
  return out;
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

// Collects problems with their positions while reading one file.
class reader {
public:
  explicit reader(std::string file)
      : file_(std::move(file)) {}

  void problem(const YAML::Mark& m, const std::string& what,
               const std::string& hint = {}) {
    std::string line = file_;
    if (m.line >= 0)
      line +=
          ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
    line += ": " + what;
    if (!hint.empty())
      line += " (" + hint + ")";
    problems_.push_back(line);
  }

  // Reports keys of `map` not in `known`, suggesting the closest one.
  void check_keys(const YAML::Node& map, const std::string& where,
                  const std::vector<std::string>& known) {
    if (!map.IsMap()) {
      problem(map.Mark(), where + " must be a mapping");
      return;
    }
    std::map<std::string, int> seen;
    for (const auto& kv : map) {
      auto key = kv.first.as<std::string>("");
      auto [first, fresh] = seen.emplace(key, kv.first.Mark().line);
      if (!fresh) {
        problem(kv.first.Mark(), "duplicate key '" + key + "' in " + where,
                "first at line " + std::to_string(first->second + 1));
        continue;
      }
      if (std::find(known.begin(), known.end(), key) != known.end())
        continue;
      std::string best;
      std::size_t best_d = 3;
      for (const auto& k : known) {
        auto d = edit_distance(key, k);
        if (d < best_d) {
          best_d = d;
          best = k;
        }
      }
      std::string valid;
      for (const auto& k : known)
        valid += (valid.empty() ? "" : ", ") + k;
      problem(kv.first.Mark(), "unknown key '" + key + "' in " + where,
              best.empty() ? "valid keys: " + valid
                           : "did you mean '" + best + "'?");
    }
  }

  template <class T>
  void get(const YAML::Node& map, const char* key, T& out,
           const std::string& what) {
    auto node = map[key];
    if (!node)
      return;
    try {
      out = node.as<T>();
    } catch (const YAML::Exception&) {
      problem(node.Mark(), std::string("'") + key + "' must be " + what);
    }
  }

  template <class T>
  void positive(const YAML::Node& map, const char* key, T& out) {
    T before = out;
    get(map, key, out, "a positive number");
    if (map[key] && out <= 0) {
      problem(map[key].Mark(), std::string("'") + key + "' must be positive");
      out = before;
    }
  }

  const std::vector<std::string>& problems() const { return problems_; }
  const std::string& file() const { return file_; }

private:
  std::string file_;
  std::vector<std::string> problems_;
};

void read_nodes(reader& r, const YAML::Node& cluster, actors::topology& topo) {
  r.check_keys(cluster, "cluster", {"nodes"});
  auto nodes = cluster["nodes"];
  if (!nodes || !nodes.IsSequence() || nodes.size() == 0) {
    r.problem(cluster.Mark(), "cluster needs a non-empty list 'nodes'");
    return;
  }
  std::map<std::string, YAML::Mark> names, actors;
  std::map<std::string, YAML::Mark> endpoints;
  for (const auto& n : nodes) {
    r.check_keys(n, "a node", {"name", "host", "port", "roles"});
    if (!n.IsMap())
      continue;
    actors::node_spec spec;
    r.get(n, "name", spec.name, "a string");
    r.get(n, "host", spec.host, "a host name or address");
    int port = 0;
    r.get(n, "port", port, "a port number");
    if (spec.name.empty())
      r.problem(n.Mark(), "node without a 'name'");
    else if (!names.emplace(spec.name, n.Mark()).second)
      r.problem(n["name"].Mark(), "duplicate node name '" + spec.name + "'",
                "first defined at line " +
                    std::to_string(names[spec.name].line + 1));
    if (port <= 0 || port > 65535)
      r.problem(n["port"] ? n["port"].Mark() : n.Mark(),
                "node '" + spec.name + "' needs a 'port' in 1..65535");
    else {
      spec.port = static_cast<std::uint16_t>(port);
      auto ep = spec.host + ":" + std::to_string(port);
      if (!endpoints.emplace(ep, n["port"].Mark()).second)
        r.problem(n["port"].Mark(), "port clash: " + ep + " is used twice",
                  "give every node on one host its own port");
    }
    auto roles = n["roles"];
    if (!roles || !roles.IsSequence() || roles.size() == 0) {
      r.problem(n.Mark(), "node '" + spec.name + "' needs a list 'roles'",
                "e.g. roles: [server/0, worker/0]");
    } else {
      for (const auto& role : roles) {
        auto name = role.as<std::string>("");
        std::string kind;
        int index = 0;
        if (!messages::parse_actor_name(name, kind, index) ||
            (kind != "server" && kind != "worker" && kind != "coordinator")) {
          r.problem(role.Mark(), "bad role '" + name + "'",
                    "write role/index with role server, worker or "
                    "coordinator, e.g. worker/0");
          continue;
        }
        if (!actors.emplace(name, role.Mark()).second) {
          r.problem(role.Mark(), "actor '" + name + "' appears twice",
                    "first at line " + std::to_string(actors[name].line + 1));
          continue;
        }
        spec.actors.push_back(name);
      }
    }
    topo.nodes.push_back(spec);
  }
  for (const std::string role : {"server", "worker", "coordinator"}) {
    auto count = topo.count(role);
    if (count == 0) {
      r.problem(nodes.Mark(), "the cluster has no " + role,
                "add " + role + "/0 to the roles of a node");
      continue;
    }
    for (std::size_t i = 0; i < count; ++i)
      if (!topo.node_of(role + "/" + std::to_string(i)))
        r.problem(nodes.Mark(), role + " indices must be 0.." +
                                    std::to_string(count - 1) + " but " + role +
                                    "/" + std::to_string(i) + " is missing");
  }
  if (topo.count("coordinator") > 1)
    r.problem(nodes.Mark(), "only one coordinator (coordinator/0) is allowed");
}

void check_file(reader& r, const YAML::Node& data, const char* key,
                const std::string& path) {
  if (path.empty()) {
    r.problem(data.Mark(), std::string("data needs '") + key + "'");
    return;
  }
  std::ifstream in(path);
  if (!in)
    r.problem(data[key].Mark(), "cannot read data file '" + path + "'",
              path.rfind("/usr/share/datasets/fashion-mnist", 0) == 0
                  ? "install the Debian package dataset-fashion-mnist"
                  : "check the path");
}

void read_job(reader& r, const YAML::Node& job, actors::topology& topo) {
  r.check_keys(job, "job",
               {"algorithm", "hidden", "data", "consistency", "epochs",
                "iterations", "batch_size", "learning_rate", "seed"});
  if (!job.IsMap())
    return;
  auto& spec = topo.job;
  r.get(job, "algorithm", spec.algorithm, "softmax, mlp or logreg");
  if (spec.algorithm != "softmax" && spec.algorithm != "mlp" &&
      spec.algorithm != "logreg")
    r.problem(job["algorithm"].Mark(),
              "unknown algorithm '" + spec.algorithm + "'",
              "valid: softmax, mlp, logreg");
  r.get(job, "consistency", spec.consistency, "bsp or async");
  if (spec.consistency != "bsp" && spec.consistency != "async")
    r.problem(job["consistency"].Mark(),
              "unknown consistency model '" + spec.consistency + "'",
              "valid: bsp, async");
  r.positive(job, "hidden", spec.hidden);
  r.positive(job, "epochs", spec.epochs);
  r.positive(job, "batch_size", spec.batch_size);
  r.positive(job, "learning_rate", spec.learning_rate);
  r.get(job, "iterations", spec.iterations, "a whole number");
  r.get(job, "seed", spec.seed, "a whole number");
  auto data = job["data"];
  if (!data) {
    r.problem(job.Mark(), "job needs 'data'");
    return;
  }
  r.check_keys(data, "job.data",
               {"format", "train_images", "train_labels", "test_images",
                "test_labels", "train", "test", "train_limit", "test_limit"});
  if (!data.IsMap())
    return;
  auto& d = spec.data;
  r.get(data, "format", d.format, "idx or libsvm");
  for (auto [key, field] : {std::pair{"train_images", &d.train_images},
                            {"train_labels", &d.train_labels},
                            {"test_images", &d.test_images},
                            {"test_labels", &d.test_labels},
                            {"train", &d.train},
                            {"test", &d.test}})
    r.get(data, key, *field, "a file path");
  auto base = std::filesystem::path(r.file()).parent_path();
  for (auto* field : {&d.train_images, &d.train_labels, &d.test_images,
                      &d.test_labels, &d.train, &d.test})
    if (!field->empty() && std::filesystem::path(*field).is_relative())
      *field = (base / *field).lexically_normal().string();
  r.get(data, "train_limit", d.train_limit, "a whole number");
  r.get(data, "test_limit", d.test_limit, "a whole number");
  if (d.format == "idx") {
    check_file(r, data, "train_images", d.train_images);
    check_file(r, data, "train_labels", d.train_labels);
    check_file(r, data, "test_images", d.test_images);
    check_file(r, data, "test_labels", d.test_labels);
    if (spec.algorithm == "logreg")
      r.problem(job["algorithm"].Mark(),
                "logreg is binary; it needs libsvm data");
  } else if (d.format == "libsvm") {
    check_file(r, data, "train", d.train);
    check_file(r, data, "test", d.test);
  } else {
    r.problem(data["format"].Mark(), "unknown data format '" + d.format + "'",
              "valid: idx, libsvm");
  }
}

} // namespace

config_error::config_error(std::vector<std::string> problems)
    : std::runtime_error(join(problems))
    , problems_(std::move(problems)) {}

actors::topology load_topology(const std::string& path) {
  reader r(path);
  actors::topology topo;
  topo.source = path;
  YAML::Node root;
  try {
    if (!std::filesystem::is_regular_file(path))
      throw config_error({path + ": cannot read the topology file"});
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    r.problem(e.mark, "YAML syntax error: " + e.msg);
    throw config_error(r.problems());
  }
  if (!root.IsMap()) {
    r.problem(root.Mark(), "the topology must be a mapping with keys "
                           "cluster, job and options");
    throw config_error(r.problems());
  }
  r.check_keys(root, "the topology", {"cluster", "job", "options"});
  if (root["cluster"])
    read_nodes(r, root["cluster"], topo);
  else
    r.problem(root.Mark(), "missing 'cluster'");
  if (root["job"])
    read_job(r, root["job"], topo);
  else
    r.problem(root.Mark(), "missing 'job'");
  if (auto options = root["options"]) {
    r.check_keys(options, "options", {"metrics_dir", "parameters_out"});
    if (options.IsMap()) {
      r.get(options, "metrics_dir", topo.options.metrics_dir, "a directory");
      r.get(options, "parameters_out", topo.options.parameters_out,
            "a file path");
    }
  }
  if (!r.problems().empty())
    throw config_error(r.problems());
  return topo;
}

} // namespace metronome::launcher
