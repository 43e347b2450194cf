#include "launcher/experiment/experiment_file.hpp"

#include "algorithms/program.hpp"
#include "launcher/config_reader.hpp"
#include "launcher/experiment/hash.hpp"

#include <fstream>
#include <regex>

namespace metronome::launcher::experiment {

namespace {

using detail::in_quotes;
using detail::reader;
namespace fs = std::filesystem;

const std::vector<std::string> experiment_keys = {
    "name",    "base", "set",    "axes",      "seeds",
    "targets", "mode", "output", "smoothing", "trial_timeout"};

// Keys an axis may not sweep: the experiment sets them for every trial.
const std::map<std::string, std::string> reserved_keys = {
    {"job.seed", "list the seeds under 'seeds'"},
    {"options.metrics_dir", "each trial writes into its own folder"},
    {"options.log_dir", "each trial writes into its own folder"},
    {"options.parameters_out", "each trial writes into its own folder"},
    {"options.topics_out", "each trial writes into its own folder"}};

// Output keys of a topology the experiment points into the trial folder.
const std::vector<std::string> output_keys = {"metrics_dir", "log_dir",
                                              "parameters_out", "topics_out"};

std::vector<std::string> split(const std::string& key, char by) {
  std::vector<std::string> parts;
  std::string part;
  for (char c : key) {
    if (c == by) {
      parts.push_back(part);
      part.clear();
    } else {
      part += c;
    }
  }
  parts.push_back(part);
  return parts;
}

std::string flow(const YAML::Node& value) {
  if (value.IsScalar())
    return value.Scalar();
  YAML::Emitter out;
  out.SetMapFormat(YAML::Flow);
  out.SetSeqFormat(YAML::Flow);
  out << value;
  return out.c_str();
}

bool is_template_key(const std::string& key) {
  return key == "cluster.workers" || key == "cluster.servers";
}

// The roles of the base topology's nodes that are neither servers nor
// workers (coordinator, scheduler, predictor), in order.
std::vector<std::string> head_roles(const YAML::Node& nodes) {
  std::vector<std::string> roles;
  for (const auto& node : nodes)
    for (const auto& role : node["roles"]) {
      auto name = role.as<std::string>("");
      if (name.rfind("server/", 0) != 0 && name.rfind("worker/", 0) != 0)
        roles.push_back(name);
    }
  return roles;
}

std::size_t count_role(const YAML::Node& nodes, const std::string& prefix) {
  std::size_t n = 0;
  for (const auto& node : nodes)
    for (const auto& role : node["roles"])
      n += role.as<std::string>("").rfind(prefix, 0) == 0;
  return n;
}

// Replaces cluster.nodes by a head node (every non-worker role, the
// servers, and worker/0 when the first node held a worker) on the first
// node's host and port, and one node per other worker on the ports after
// it.
void rebuild_cluster(YAML::Node tree, std::size_t workers,
                     std::size_t servers) {
  auto nodes = tree["cluster"]["nodes"];
  auto first = nodes[0];
  std::size_t on_head = 0;
  for (const auto& role : first["roles"])
    if (role.as<std::string>("").rfind("worker/", 0) == 0)
      on_head = 1;
  auto host = first["host"] ? first["host"].as<std::string>() : "127.0.0.1";
  auto port = first["port"].as<unsigned>(24000);
  YAML::Node head;
  head["name"] = "head";
  head["host"] = host;
  head["port"] = port;
  auto roles = head_roles(nodes);
  for (std::size_t i = 0; i < servers; ++i)
    roles.push_back("server/" + std::to_string(i));
  if (on_head > 0)
    roles.push_back("worker/0");
  head["roles"] = roles;
  head["roles"].SetStyle(YAML::EmitterStyle::Flow);
  YAML::Node fresh;
  fresh.push_back(head);
  for (std::size_t i = on_head; i < workers; ++i) {
    YAML::Node w;
    w["name"] = "w" + std::to_string(i);
    w["host"] = host;
    w["port"] = port + 1 + static_cast<unsigned>(i);
    w["roles"].push_back("worker/" + std::to_string(i));
    w["roles"].SetStyle(YAML::EmitterStyle::Flow);
    fresh.push_back(w);
  }
  tree["cluster"]["nodes"] = fresh;
}

} // namespace

std::string apply(YAML::Node tree, const std::vector<setting>& settings) {
  std::optional<std::size_t> workers;
  std::optional<std::size_t> servers;
  for (const auto& s : settings) {
    if (!is_template_key(s.key)) {
      if (auto why = set_dotted(tree, s.key, s.value); !why.empty())
        return why;
      continue;
    }
    (s.key == "cluster.workers" ? workers : servers) =
        s.value.as<std::size_t>();
  }
  if (!workers && !servers)
    return {};
  auto nodes = tree["cluster"]["nodes"];
  if (!nodes.IsSequence() || nodes.size() == 0)
    return "cluster.workers and cluster.servers need a base topology with "
           "cluster.nodes";
  rebuild_cluster(tree, workers.value_or(count_role(nodes, "worker/")),
                  servers.value_or(count_role(nodes, "server/")));
  return {};
}

namespace {

// The problem text without its "FILE[:LINE:COLUMN]: " prefix.
std::string unlocated(const std::string& problem, const std::string& file) {
  if (problem.rfind(file + ":", 0) != 0)
    return problem;
  static const std::regex location(R"(^:([0-9]+:[0-9]+:)? )");
  return std::regex_replace(problem.substr(file.size()), location, "",
                            std::regex_constants::format_first_only);
}

struct parse {
  reader& r;
  experiment_spec& spec;
  std::map<std::string, YAML::Node> bases; ///< by absolute path
};

// Reads and checks the base topology `path` (absolute) once; problems go
// to `at`. False when it is refused.
bool load_base(parse& p, const std::string& path, const YAML::Mark& at) {
  if (auto known = p.bases.find(path); known != p.bases.end())
    return known->second.IsDefined() && !known->second.IsNull();
  p.bases[path] = YAML::Node(); // refused until it loads: reported once
  try {
    reader base_reader(path);
    auto tree = detail::load_yaml(base_reader, path, "topology");
    load_topology_tree(tree, path); // a clone would lose the positions
    p.bases[path] = tree;
    return true;
  } catch (const config_error& e) {
    for (const auto& problem : e.problems())
      p.r.problem_text(at, "the base topology is refused: " + problem);
  }
  return false;
}

std::string algorithm_of(const YAML::Node& base) {
  return base["job"]["algorithm"].as<std::string>("");
}

// A copy of base `base` (or the experiment's) with `settings` applied,
// checked by the topology loader; problems are reported at `at`,
// introduced by `what`.
std::optional<YAML::Node> checked(parse& p, std::string base,
                                  const std::vector<setting>& s,
                                  const YAML::Mark& at,
                                  const std::string& what) {
  if (base.empty())
    base = p.spec.base.string();
  auto tree = YAML::Clone(p.bases.at(base));
  if (auto why = apply(tree, s); !why.empty()) {
    p.r.problem(at, what + ": " + why, "see docs/experiment.md");
    return std::nullopt;
  }
  try {
    load_topology_tree(tree, base);
    return tree;
  } catch (const config_error& e) {
    for (const auto& problem : e.problems())
      p.r.problem_text(at, what + " makes a topology the loader refuses: " +
                               unlocated(problem, base));
  }
  return std::nullopt;
}

// A variant's `base: PATH`, relative to the experiment file; its program
// must be the experiment's, since the targets are checked against it.
void read_variant_base(parse& p, const YAML::Node& value, axis_value& v) {
  std::string path = value.IsScalar() ? value.Scalar() : "";
  if (path.empty()) {
    p.r.problem(value, "a variant's 'base' must be a topology path",
                "e.g. base: lda-data.yaml");
    return;
  }
  auto absolute =
      (fs::path(path).is_absolute() ? fs::path(path) : p.r.dir() / path)
          .lexically_normal()
          .string();
  if (!load_base(p, absolute, value.Mark()))
    return;
  if (algorithm_of(p.bases.at(absolute)) != p.spec.algorithm) {
    p.r.problem(value,
                "base " + in_quotes(path) + " runs algorithm " +
                    in_quotes(algorithm_of(p.bases.at(absolute))) +
                    ", the experiment's base " + in_quotes(p.spec.algorithm),
                "every cell must run one program");
    return;
  }
  v.base = absolute;
}

bool check_key(parse& p, const YAML::Node& key_node, const std::string& key) {
  if (auto reserved = reserved_keys.find(key);
      reserved != reserved_keys.end()) {
    p.r.problem(key_node, "an axis cannot set " + in_quotes(key),
                reserved->second);
    return false;
  }
  auto parts = split(key, '.');
  bool ok = parts.size() >= 2 &&
            std::none_of(parts.begin(), parts.end(),
                         [](const auto& s) { return s.empty(); });
  if (!ok ||
      (parts[0] != "cluster" && parts[0] != "job" && parts[0] != "options")) {
    p.r.problem(key_node, "axis key " + in_quotes(key) + " is no topology key",
                "write a dotted key under cluster, job or options, e.g. "
                "job.consistency");
    return false;
  }
  if (parts[0] == "cluster" && !is_template_key(key)) {
    p.r.problem(key_node, "an axis cannot set " + in_quotes(key),
                "sweep cluster sizes with cluster.workers or "
                "cluster.servers");
    return false;
  }
  return true;
}

bool check_template_value(parse& p, const std::string& key,
                          const YAML::Node& value) {
  if (!is_template_key(key))
    return true;
  std::size_t n = 0;
  bool ok =
      value.IsScalar() && !value.Scalar().empty() &&
      value.Scalar().find_first_not_of("0123456789") == std::string::npos &&
      value.Scalar().size() < 6;
  if (ok)
    n = std::stoul(value.Scalar());
  if (ok && n >= 1 && n <= 1024)
    return true;
  p.r.problem(value,
              key + " must be a whole number in 1..1024, not " +
                  in_quotes(flow(value)),
              "e.g. " + key + ": [1, 2, 4]");
  return false;
}

void read_value_list(parse& p, const std::string& name, const YAML::Node& list,
                     const YAML::Mark& at, axis& a) {
  if (!list.IsSequence() || list.size() == 0) {
    p.r.problem(list.IsNull() ? at : list.Mark(),
                "axis " + in_quotes(name) + " needs a non-empty list",
                "e.g. " + name + ": [bsp, ssp]");
    return;
  }
  std::set<std::string> seen;
  for (const auto& item : list) {
    axis_value v;
    v.line = item.Mark().line;
    v.column = item.Mark().column;
    if (name.find('.') != std::string::npos) {
      if (!check_template_value(p, name, item))
        continue;
      v.label = flow(item);
      v.settings.push_back({name, item});
    } else if (!item.IsMap() || item.size() == 0) {
      p.r.problem(item,
                  "each value of the variant axis " + in_quotes(name) +
                      " must be a mapping of dotted keys",
                  "e.g. - {label: ssp3, job.consistency: ssp, "
                  "job.staleness: 3}; a dotted axis name sweeps one key");
      continue;
    } else {
      for (const auto& kv : item) {
        auto key = kv.first.as<std::string>("");
        if (key == "label") {
          v.label = flow(kv.second);
          continue;
        }
        if (key == "base") {
          read_variant_base(p, kv.second, v);
          continue;
        }
        if (!check_key(p, kv.first, key) ||
            !check_template_value(p, key, kv.second))
          continue;
        v.settings.push_back({key, kv.second});
        v.label += (v.label.empty() ? "" : ",") + split(key, '.').back() + "=" +
                   flow(kv.second);
      }
      if (item["label"])
        v.label = flow(item["label"]);
      if (v.label.empty() && !v.base.empty())
        v.label = fs::path(v.base).stem().string();
    }
    if (!seen.insert(v.label).second)
      p.r.problem(item,
                  "axis " + in_quotes(name) + " lists " + in_quotes(v.label) +
                      " twice",
                  "keep one of them");
    a.values.push_back(std::move(v));
  }
}

void read_axes(parse& p, const YAML::Node& root) {
  auto at = reader::key_mark(root, "axes");
  auto axes = root["axes"];
  if (!axes || axes.IsNull() || (axes.IsMap() && axes.size() == 0)) {
    p.r.problem(at, "the experiment needs at least one axis",
                "e.g. axes: {job.consistency: [bsp, ssp]}");
    return;
  }
  if (!axes.IsMap()) {
    p.r.problem(axes, "'axes' must be a mapping from keys to value lists",
                "e.g. axes: {job.consistency: [bsp, ssp]}");
    return;
  }
  for (const auto& kv : axes) {
    axis a;
    a.name = kv.first.as<std::string>("");
    if (a.name.find('.') != std::string::npos &&
        !check_key(p, kv.first, a.name))
      continue;
    read_value_list(p, a.name, kv.second, kv.first.Mark(), a);
    p.spec.axes.push_back(std::move(a));
  }
}

void read_fixed(parse& p, const YAML::Node& root) {
  auto set = root["set"];
  if (!set)
    return;
  if (!set.IsMap()) {
    p.r.problem(set, "'set' must be a mapping of dotted keys to values",
                "e.g. set: {job.epochs: 3}");
    return;
  }
  for (const auto& kv : set) {
    auto key = kv.first.as<std::string>("");
    if (check_key(p, kv.first, key) && check_template_value(p, key, kv.second))
      p.spec.fixed.push_back({key, kv.second});
  }
  if (p.r.ok())
    checked(p, "", p.spec.fixed, set.Mark(), "'set'");
}

void read_seeds(parse& p, const YAML::Node& root) {
  auto seeds = root["seeds"];
  auto at = reader::key_mark(root, "seeds");
  if (!seeds || !seeds.IsSequence() || seeds.size() == 0) {
    p.r.problem(seeds && !seeds.IsNull() ? seeds.Mark() : at,
                "'seeds' must be a non-empty list of whole numbers",
                "e.g. seeds: [1, 2, 3]; every cell runs on each of them");
    return;
  }
  std::set<std::uint64_t> seen;
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    YAML::Node holder;
    holder["seed"] = seeds[i];
    std::uint64_t seed = 0;
    if (!p.r.whole(holder, "seed", seed, 0, ~std::uint64_t{0}, "1")) {
      continue;
    }
    if (!seen.insert(seed).second)
      p.r.problem(seeds[i], "seed " + std::to_string(seed) + " is listed twice",
                  "keep one of them");
    p.spec.seeds.push_back(seed);
  }
}

void read_target(parse& p, const YAML::Node& item,
                 const std::vector<std::string>& metrics) {
  static const std::regex form(
      R"(^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=)\s*(\S+))"
      R"((\s+over\s+([0-9]{1,6}))?\s*$)");
  std::smatch m;
  auto text = item.IsScalar() ? item.Scalar() : std::string();
  if (!std::regex_match(text, m, form) ||
      (m[5].matched && std::stoul(m[5]) == 0)) {
    p.r.problem(item,
                "a target must read 'METRIC <= NUMBER' or 'METRIC >= "
                "NUMBER', optionally followed by 'over N' (N >= 1), not " +
                    in_quotes(flow(item)),
                "e.g. targets: [\"loss <= 0.45 over 20\", \"test_accuracy "
                ">= 0.8\"]");
    return;
  }
  target t{m[1], m[2] == "<=", 0, text, p.spec.smoothing};
  if (m[5].matched)
    t.window = std::stoul(m[5]);
  char* end = nullptr;
  auto number = m[3].str();
  t.value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || !std::isfinite(t.value)) {
    p.r.problem(item,
                "the level of target " + in_quotes(text) +
                    " is not a finite number",
                "e.g. loss <= 0.45");
    return;
  }
  if (std::find(metrics.begin(), metrics.end(), t.metric) == metrics.end()) {
    auto best = detail::closest(t.metric, metrics);
    p.r.problem(item,
                "algorithm " + p.spec.algorithm + " does not report " +
                    in_quotes(t.metric),
                (best.empty() ? "" : "did you mean '" + best + "'? ") +
                    "it reports " + detail::comma_list(metrics));
    return;
  }
  p.spec.targets.push_back(t);
}

void read_targets(parse& p, const YAML::Node& root) {
  auto targets = root["targets"];
  if (!targets)
    return;
  if (!targets.IsSequence()) {
    p.r.problem(targets, "'targets' must be a list",
                "e.g. targets: [\"loss <= 0.45\"]");
    return;
  }
  const auto* program = algorithms::find_program(p.spec.algorithm);
  for (const auto& item : targets)
    read_target(p, item,
                program ? program->metrics : std::vector<std::string>{});
}

void read_settings(parse& p, const YAML::Node& root) {
  std::string name;
  if (p.r.text(root, "name", name, "consistency") &&
      !std::regex_match(name, std::regex("[A-Za-z0-9._-]+")))
    p.r.problem(root["name"],
                "experiment name " + in_quotes(name) + " is not a folder name",
                "use letters, digits, '.', '_' and '-'");
  p.spec.name = name.empty() ? fs::path(p.spec.file).stem().string() : name;
  std::string mode = "run";
  p.r.choice(root, "mode", mode, {"run", "launch"}, "trial mode");
  p.spec.mode = mode == "launch" ? trial_mode::launch : trial_mode::run;
  std::string output = "results/" + p.spec.name;
  p.r.text(root, "output", output, "results/consistency");
  p.spec.output = output;
  if (root["smoothing"])
    p.r.whole(root, "smoothing", p.spec.smoothing, 1, 100000, "20");
  if (root["trial_timeout"])
    p.r.real(root, "trial_timeout", p.spec.trial_timeout_s, 0, false, 1e6,
             "600");
}

bool read_base(parse& p, const YAML::Node& root) {
  std::string base;
  if (!root["base"]) {
    p.r.problem(reader::key_mark(root, "base"), "missing 'base'",
                "give the topology the trials start from, e.g. base: "
                "../quickstart.yaml");
    return false;
  }
  if (!p.r.text(root, "base", base, "../quickstart.yaml"))
    return false;
  p.spec.base =
      fs::path(base).is_absolute() ? fs::path(base) : p.r.dir() / base;
  p.spec.base = p.spec.base.lexically_normal();
  if (!load_base(p, p.spec.base.string(), root["base"].Mark()))
    return false;
  p.spec.algorithm = algorithm_of(p.bases.at(p.spec.base.string()));
  return true;
}

YAML::Mark mark_of(const axis_value& v) {
  YAML::Mark m;
  m.line = v.line;
  m.column = v.column;
  return m;
}

// Each axis value applied alone (after `set`), so that a refused value is
// reported once, at its own line.
void check_values(parse& p) {
  for (const auto& a : p.spec.axes)
    for (const auto& v : a.values) {
      auto settings = p.spec.fixed;
      settings.insert(settings.end(), v.settings.begin(), v.settings.end());
      checked(p, v.base, settings, mark_of(v),
              "axis " + in_quotes(a.name) + " value " + in_quotes(v.label));
    }
}

void expand_cells(parse& p) {
  std::vector<cell> cells(1);
  cells.front().settings = p.spec.fixed;
  for (const auto& a : p.spec.axes) {
    std::vector<cell> next;
    for (const auto& c : cells)
      for (const auto& v : a.values) {
        auto grown = c;
        auto key = a.name.find('.') == std::string::npos
                       ? a.name
                       : split(a.name, '.').back();
        grown.label += (grown.label.empty() ? "" : " ") + key + "=" + v.label;
        grown.values.push_back(v.label);
        grown.settings.insert(grown.settings.end(), v.settings.begin(),
                              v.settings.end());
        if (!v.base.empty() && !grown.base.empty() && v.base != grown.base)
          p.r.problem(mark_of(v),
                      "cell " + in_quotes(grown.label) +
                          " would start from two bases",
                      "give 'base' in the variants of one axis only");
        if (!v.base.empty())
          grown.base = v.base;
        next.push_back(std::move(grown));
      }
    cells = std::move(next);
  }
  p.spec.cells = std::move(cells);
}

std::string identity_of_files(const YAML::Node& node) {
  std::string out;
  if (node.IsMap() || node.IsSequence()) {
    for (auto it = node.begin(); it != node.end(); ++it)
      out += identity_of_files(node.IsMap() ? it->second : *it);
    return out;
  }
  if (!node.IsScalar() || node.Scalar().empty() || node.Scalar()[0] != '/')
    return out;
  std::error_code ec;
  auto note = [&](const fs::path& f) {
    auto size = fs::file_size(f, ec);
    auto time = fs::last_write_time(f, ec).time_since_epoch().count();
    out += f.string() + ":" + std::to_string(size) + ":" +
           std::to_string(time) + "\n";
  };
  fs::path path = node.Scalar();
  if (fs::is_regular_file(path, ec))
    note(path);
  else if (fs::is_directory(path, ec))
    for (const auto& entry : fs::directory_iterator(path, ec))
      if (entry.is_regular_file(ec))
        note(entry.path());
  return out;
}

void make_trials(parse& p, const std::string& binary) {
  for (std::size_t c = 0; c < p.spec.cells.size(); ++c) {
    const auto& cell = p.spec.cells[c];
    YAML::Mark at = mark_of(p.spec.axes.front().values.front());
    for (const auto& a : p.spec.axes)
      for (const auto& v : a.values)
        if (std::find(cell.values.begin(), cell.values.end(), v.label) !=
            cell.values.end())
          at = mark_of(v);
    for (auto seed : p.spec.seeds) {
      auto settings = cell.settings;
      settings.push_back({"job.seed", YAML::Node(seed)});
      auto tree = checked(p, cell.base, settings, at,
                          "cell " + in_quotes(cell.label) + " with seed " +
                              std::to_string(seed));
      if (!tree)
        break;
      if (auto options = (*tree)["options"]; options.IsMap())
        for (const auto& key : output_keys)
          options.remove(key);
      trial t;
      t.cell = c;
      t.seed = seed;
      t.topology = *tree;
      t.hash =
          hex64(fnv1a64(emit(*tree) + "\n" + identity_of_files((*tree)["job"]) +
                        identity_of_files((*tree)["options"]) + binary));
      t.dir = p.spec.output / t.hash;
      p.spec.trials.push_back(std::move(t));
    }
  }
}

} // namespace

std::string set_dotted(YAML::Node tree, const std::string& key,
                       const YAML::Node& value) {
  auto parts = split(key, '.');
  YAML::Node at = tree;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node next;
    if (at.IsSequence()) {
      char* end = nullptr;
      auto index = std::strtoul(parts[i].c_str(), &end, 10);
      if (*end != '\0' || index >= at.size())
        return "no element " + in_quotes(parts[i]) + " in the list at " +
               in_quotes(key);
      next.reset(at[index]);
    } else if (at.IsScalar()) {
      return in_quotes(parts[i - 1]) + " of " + in_quotes(key) +
             " is a single value, not a mapping";
    } else {
      next.reset(at[parts[i]]);
    }
    at.reset(next);
  }
  if (at.IsSequence())
    return in_quotes(key) + " ends at a list; name an element";
  if (at.IsScalar())
    return "the part before " + in_quotes(parts.back()) + " of " +
           in_quotes(key) + " is a single value";
  at[parts.back()] = YAML::Clone(value);
  return {};
}

std::string emit(const YAML::Node& tree) {
  YAML::Emitter out;
  out << tree;
  return std::string(out.c_str()) + "\n";
}

experiment_spec load_experiment(const std::string& path,
                                const std::string& binary) {
  reader r(path);
  experiment_spec spec;
  spec.file = path;
  auto root = detail::load_yaml(r, path, "experiment");
  YAML::Mark start;
  start.line = 0;
  start.column = 0;
  if (!root.IsMap()) {
    r.problem(start, "the experiment must be a mapping",
              "it needs base, axes and seeds; see docs/experiment.md");
    throw config_error(r.sorted_problems());
  }
  parse p{r, spec, {}};
  try {
    r.check_keys(root, "the experiment", experiment_keys, start);
    read_settings(p, root);
    bool base_ok = read_base(p, root);
    if (base_ok)
      read_fixed(p, root);
    read_axes(p, root);
    read_seeds(p, root);
    if (base_ok)
      read_targets(p, root);
    if (base_ok)
      check_values(p);
    if (r.ok()) {
      expand_cells(p);
      make_trials(p, binary);
    }
  } catch (const YAML::Exception& e) {
    r.problem(e.mark, "unexpected value: " + e.msg,
              "compare this part with docs/experiment.md");
  }
  if (!r.ok())
    throw config_error(r.sorted_problems());
  return spec;
}

std::string binary_fingerprint() {
  std::ifstream in("/proc/self/exe", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  return hex64(fnv1a64(bytes));
}

} // namespace metronome::launcher::experiment
