#include "launcher/config.hpp"

#include "launcher/config_lasso.hpp"
#include "launcher/config_lda.hpp"
#include "launcher/config_reader.hpp"

#include "actors/core/table.hpp"

#include "algorithms/cutoff/dmm.hpp"
#include "algorithms/program.hpp"
#include "algorithms/sgd/models.hpp"

#include "messages/codec.hpp"

#include <yaml-cpp/depthguard.h>

namespace metronome::launcher {

using namespace detail;

namespace {

const std::vector<std::string>& role_kinds = actors::role_names();

// The section of the job each scheduled program is configured by, its
// reader and the reader of its data: adding a program adds one line here.
struct scheduled_section {
  std::string name;
  void (*read)(reader&, const YAML::Node&, actors::topology&);
  void (*read_data)(reader&, const YAML::Node&, const YAML::Mark&,
                    actors::topology&);
};
const std::map<std::string, scheduled_section> scheduled_sections = {
    {"lasso", {"lasso", read_lasso, read_data}},
    {"lda", {"lda", read_lda, read_lda_data}}};

bool valid_node_name(const std::string& name) {
  return !name.empty() &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '-' || c == '_' || c == '.';
         });
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
                         "coordinator, server, worker or scheduler, e.g. "
                         "worker/0";
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

enum class role_need { required, optional, refused };

// Whether `job` needs, may have or refuses each role.
std::map<std::string, role_need> roles_for(const actors::job_spec& job) {
  bool scheduled = actors::scheduled_job(job);
  auto only = [](bool yes) {
    return yes ? role_need::required : role_need::refused;
  };
  return {{"coordinator", role_need::required},
          {"server", only(!scheduled)},
          {"worker", role_need::required},
          {"scheduler", only(scheduled)},
          {"predictor", job.consistency == "cutoff" ? role_need::optional
                                                    : role_need::refused}};
}

void check_role_counts(reader& r, const YAML::Mark& nodes,
                       const std::map<std::string, YAML::Mark>& actors,
                       const actors::job_spec& job) {
  const auto& algorithm = job.algorithm;
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
      {"worker", "workers compute on their share of the data"},
      {"scheduler", "it hands out the rounds of " + algorithm}};
  auto needed = roles_for(job);
  for (const auto& kind : role_kinds) {
    const auto& indices = by_kind[kind];
    if (needed[kind] == role_need::refused) {
      if (!indices.empty())
        r.problem(indices.begin()->second,
                  (kind == "predictor" ? "consistency " + job.consistency
                                       : "algorithm " + algorithm) +
                      " uses no " + kind,
                  "remove " + kind + "/" +
                      std::to_string(indices.begin()->first) +
                      " from the roles" +
                      (kind == "predictor" ? " (a predictor chooses the "
                                             "cutoffs of consistency cutoff)"
                                           : ""));
      continue;
    }
    if ((kind == "scheduler" || kind == "predictor") && indices.size() > 1) {
      r.problem(std::next(indices.begin())->second,
                "one " + kind + " is supported, found " +
                    std::to_string(indices.size()),
                "keep " + kind + "/0 and remove the others");
      continue;
    }
    if (indices.empty() && needed[kind] == role_need::optional)
      continue;
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

// Where the actors of the cluster were written, for the role checks that
// need the job.
struct cluster_marks {
  YAML::Mark nodes;
  std::map<std::string, YAML::Mark> actors;
  bool read = false;
};

// The node's control_port, or the default derived from its port.
void read_control_port(reader& r, const YAML::Node& n, actors::node_spec& spec,
                       node_marks& m) {
  if (n["control_port"]) {
    m.control = n["control_port"].Mark();
    m.control_given = true;
    m.control_ok =
        r.whole(n, "control_port", spec.control_port, 1, 65535, "57100");
  } else if (m.port_ok) {
    m.control = m.port;
    m.control_ok = true;
    spec.control_port = actors::default_control_port(spec.port);
  }
}

void read_cluster(reader& r, const YAML::Node& cluster, const YAML::Mark& at,
                  actors::topology& topo, std::vector<node_marks>& marks,
                  cluster_marks& roles) {
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
  auto& actors = roles.actors;
  for (const auto& n : nodes) {
    if (!r.check_keys(n, "a node",
                      {"name", "host", "port", "control_port", "roles"},
                      n.Mark()))
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
    read_control_port(r, n, spec, m);
    read_roles(r, n, spec, m.at, actors);
    topo.nodes.push_back(spec);
    marks.push_back(m);
  }
  roles.nodes = nodes_at;
  roles.read = true;
}

// The consistency model and staleness bound written in `map` (the job or
// one of its tables).
void read_consistency(reader& r, const YAML::Node& map, std::string& model,
                      std::int64_t& staleness, bool table = false) {
  auto models = actors::consistency_models();
  std::map<std::string, std::string> notes = {{"asp", "did you mean 'async'?"}};
  if (table) {
    notes["cutoff"] = "cutoff applies to a whole job, not to one table";
    models.erase(std::remove(models.begin(), models.end(), "cutoff"),
                 models.end());
  }
  r.choice(map, "consistency", model, models, "consistency model", notes);
  if (r.whole(map, "staleness", staleness, 0, 1000000, "3") && model != "ssp" &&
      model != "essp")
    r.problem(map["staleness"],
              "'staleness' applies only to consistency ssp or essp",
              "set 'consistency: ssp' or remove 'staleness'");
}

// job.tables: consistency per parameter block of the model.
void read_tables(reader& r, const YAML::Node& job, actors::topology& topo) {
  auto node = job["tables"];
  if (!node || node.IsNull())
    return;
  auto names = algorithms::block_names(topo.job.algorithm);
  if (!r.check_keys(node, "job.tables", names, reader::key_mark(job, "tables")))
    return;
  for (const auto& name : names) {
    auto table = node[name];
    if (!table)
      continue;
    if (!r.check_keys(table, "table " + in_quotes(name),
                      {"consistency", "staleness"},
                      reader::key_mark(node, name)))
      continue;
    actors::table_spec spec{name, topo.job.consistency, topo.job.staleness};
    if (table["consistency"])
      spec.staleness = 0; // a table's own model does not take the job's s
    read_consistency(r, table, spec.consistency, spec.staleness, true);
    topo.job.tables.push_back(spec);
  }
}

// job.cutoff: the cutoff rule of consistency: cutoff.
void read_cutoff(reader& r, const YAML::Node& job, actors::topology& topo) {
  auto node = job["cutoff"];
  auto& spec = topo.job.cutoff;
  if (node && topo.job.consistency != "cutoff") {
    r.problem(reader::key_mark(job, "cutoff"),
              "'cutoff' applies only to consistency cutoff",
              "set 'consistency: cutoff' or remove 'cutoff'");
    return;
  }
  if (topo.job.consistency != "cutoff")
    return;
  if (!topo.job.tables.empty())
    r.problem(reader::key_mark(job, "tables"),
              "consistency cutoff keeps the parameters in one table",
              "remove 'tables'");
  if (!node || node.IsNull())
    return;
  if (!r.check_keys(node, "job.cutoff",
                    {"rule", "backups", "window", "scaling", "model", "samples",
                     "refit_every", "history"},
                    reader::key_mark(job, "cutoff")))
    return;
  r.choice(node, "rule", spec.rule.rule, algorithms::cutoff_rule_names(),
           "cutoff rule");
  auto workers = topo.count("worker");
  if (r.whole(node, "backups", spec.rule.backups, 0, 1000000, "2")) {
    if (spec.rule.rule != "static")
      r.problem(node["backups"], "'backups' applies only to rule static",
                "set 'rule: static' or remove 'backups'");
    else if (workers > 0 && spec.rule.backups >= workers)
      r.problem(node["backups"],
                "static(" + std::to_string(spec.rule.backups) +
                    ") would wait for no gradient: the job has " +
                    std::to_string(workers) + " workers",
                "backups must be below the number of workers");
  }
  r.whole(node, "window", spec.rule.window, 1, 1000000, "20");
  r.choice(node, "scaling", spec.scaling, {"fixed", "linear"},
           "learning-rate scaling");
  r.whole(node, "samples", spec.samples, 1, 100000, "64");
  r.whole(node, "lag", spec.lag, 1, 10000, "5");
  r.whole(node, "particles", spec.particles, 1, 10000, "8");
  r.whole(node, "refit_every", spec.refit_every, 0, 1000000, "200");
  r.whole(node, "history", spec.history, 2, 1000000, "500");
  bool has_model = r.text(node, "model", spec.model, "runs/dmm.model");
  if (spec.rule.rule != "bdsgd") {
    for (const char* key :
         {"model", "samples", "lag", "particles", "refit_every", "history"})
      if (node[key])
        r.problem(reader::key_mark(node, key),
                  std::string("'") + key + "' applies only to rule bdsgd",
                  "set 'rule: bdsgd' or remove it");
    return;
  }
  if (!node["model"]) {
    r.problem(reader::key_mark(node, "rule"),
              "rule bdsgd needs a run-time model",
              "train one with 'metronome predictor train --trace "
              "runs/x/trace.csv --out dmm.model' and add 'model: dmm.model'");
    return;
  }
  if (!has_model)
    return;
  spec.model = r.resolve(node, "model", spec.model);
  try {
    auto m = algorithms::load_dmm(spec.model);
    if (workers > 0 && m.workers() != workers)
      r.problem(node["model"],
                "model " + in_quotes(spec.model) + " describes " +
                    std::to_string(m.workers()) + " workers; the job has " +
                    std::to_string(workers),
                "train it on a trace of a run with " + std::to_string(workers) +
                    " workers");
  } catch (const std::exception& e) {
    r.problem(node["model"], std::string("cannot use the model: ") + e.what(),
              "train one with 'metronome predictor train'");
  }
}

// LDA with parallel: data runs on server tables under the job's consistency
// model, one clock per iteration, evaluated after each.
void read_lda_pacing(reader& r, const YAML::Node& job, actors::topology& topo) {
  auto& spec = topo.job;
  if (spec.lda.parallel != "data") {
    for (const char* key : {"consistency", "staleness"})
      if (job[key])
        r.problem(reader::key_mark(job, key),
                  std::string("'") + key +
                      "' applies to lda only with parallel: data",
                  "set lda.parallel: data, or remove it (the scheduler "
                  "paces parallel: model)");
    return;
  }
  read_consistency(r, job, spec.consistency, spec.staleness);
  if (spec.consistency == "cutoff")
    r.problem(job["consistency"],
              "consistency cutoff drops late updates, and LDA's counts need "
              "every one",
              "use bsp, ssp, essp or async");
  spec.iterations = spec.lda.iterations;
  spec.batch_size = std::numeric_limits<std::size_t>::max();
  spec.eval_every = 1;
}

// The keys of a scheduled program's job: its own section, data and seed.
void read_scheduled_job(reader& r, const YAML::Node& job, const YAML::Mark& at,
                        actors::topology& topo) {
  const auto& section = scheduled_sections.at(topo.job.algorithm);
  std::vector<std::string> keys = {"algorithm", "data", "seed", section.name};
  if (section.name == "lda")
    keys.insert(keys.end(), {"consistency", "staleness"});
  if (!r.check_keys(job, "job", keys, at))
    return;
  r.whole(job, "seed", topo.job.seed, 0,
          std::numeric_limits<std::uint64_t>::max(), "1");
  section.read(r, job, topo);
  section.read_data(r, job, at, topo);
  if (section.name == "lda")
    read_lda_pacing(r, job, topo);
}

void read_job(reader& r, const YAML::Node& job, const YAML::Mark& at,
              actors::topology& topo) {
  if (job.IsMap() && job["algorithm"])
    r.choice(job, "algorithm", topo.job.algorithm, algorithms::program_names(),
             "algorithm");
  const auto* program = algorithms::find_program(topo.job.algorithm);
  if (program != nullptr && program->paced == algorithms::pacing::scheduled) {
    read_scheduled_job(r, job, at, topo);
    return;
  }
  if (!r.check_keys(job, "job",
                    {"algorithm", "hidden", "data", "consistency", "staleness",
                     "epochs", "iterations", "batch_size", "learning_rate",
                     "seed", "stragglers", "tables", "cutoff", "eval_every"},
                    at))
    return;
  auto& spec = topo.job;
  const auto any = std::numeric_limits<std::uint64_t>::max();
  read_consistency(r, job, spec.consistency, spec.staleness);
  r.whole(job, "hidden", spec.hidden, 1, any, "128");
  if (r.whole(job, "epochs", spec.epochs, 1, any, "10") &&
      spec.epochs > 1000000)
    r.problem(job["epochs"],
              "'epochs' is too large: " + std::to_string(spec.epochs),
              "at most 1000000");
  // Clocks stay far below the 2^62 transports and tables accept.
  const std::uint64_t most = 1000000000000ull;
  r.whole(job, "iterations", spec.iterations, 0, most, "1000");
  r.whole(job, "eval_every", spec.eval_every, 0, any, "50");
  r.whole(job, "batch_size", spec.batch_size, 1, any, "32");
  r.positive_real(job, "learning_rate", spec.learning_rate, "0.1");
  r.whole(job, "seed", spec.seed, 0, any, "1");
  read_data(r, job, at, topo);
  read_stragglers(r, job, topo);
  read_tables(r, job, topo);
  read_cutoff(r, job, topo);
}

// --- options ---------------------------------------------------------------

// options.topics_out, the output of lda, which has no parameters_out.
void read_topics_out(reader& r, const YAML::Node& options,
                     actors::topology& topo) {
  auto& o = topo.options;
  bool lda = topo.job.algorithm == "lda";
  if (lda && options["parameters_out"])
    r.problem(options["parameters_out"],
              "algorithm lda writes its topics, not parameters",
              "use topics_out: runs/topics.txt");
  if (!options["topics_out"])
    return;
  if (!lda)
    r.problem(options["topics_out"],
              "'topics_out' applies only to algorithm lda",
              "remove it, or use parameters_out");
  std::error_code ec;
  if (r.text(options, "topics_out", o.topics_out, "runs/topics.txt") &&
      fs::is_directory(o.topics_out, ec))
    r.problem(options["topics_out"],
              "'topics_out' is " + in_quotes(o.topics_out) +
                  ", which is a directory",
              "give a file path, e.g. topics_out: runs/topics.txt");
}

void read_options(reader& r, const YAML::Node& options, const YAML::Mark& at,
                  actors::topology& topo) {
  if (options.IsNull())
    return;
  if (!r.check_keys(options, "options",
                    {"log_dir", "metrics_dir", "parameters_out", "topics_out",
                     "remote_command", "keys", "stragglers", "inspect",
                     "server_thread", "worker_thread"},
                    at))
    return;
  auto& o = topo.options;
  r.choice(options, "inspect", o.inspect, {"read", "write", "off"},
           "inspect access", {{"true", "use read"}, {"false", "use off"}});
  r.choice(options, "server_thread", o.server_thread,
           {"transport", "scheduler"}, "server thread");
  r.choice(options, "worker_thread", o.worker_thread,
           {"transport", "scheduler"}, "worker thread");
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
  read_topics_out(r, options, topo);
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
        *field = r.resolve(keys, key, *field);
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

actors::topology read_topology(reader& r, const YAML::Node& root,
                               const std::string& path,
                               const load_options& options) {
  actors::topology topo;
  topo.source = path;
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
    cluster_marks roles;
    if (root["cluster"])
      read_cluster(r, root["cluster"], reader::key_mark(root, "cluster"), topo,
                   marks, roles);
    else
      r.problem(start, "missing 'cluster'",
                "add cluster: with a list 'nodes' of the node processes");
    check_hosts(r, topo, marks, options);
    if (root["job"])
      read_job(r, root["job"], reader::key_mark(root, "job"), topo);
    else
      r.problem(start, "missing 'job'",
                "add job: with algorithm, data and the training parameters");
    if (roles.read)
      check_role_counts(r, roles.nodes, roles.actors, topo.job);
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

} // namespace

YAML::Node detail::load_yaml(reader& r, const std::string& path,
                             const std::string& what) {
  if (auto why = unreadable(path); !why.empty())
    throw config_error({path + ": cannot read the " + what + " file: " + why +
                        " (check the path)"});
  try {
    return YAML::LoadFile(path);
  } catch (const YAML::DeepRecursion& e) {
    r.problem(e.mark,
              "YAML nested " + std::to_string(e.depth()) +
                  " levels deep here, past the parser's limit",
              "a " + what +
                  " needs a few levels; look for runaway brackets "
                  "or indentation");
  } catch (const YAML::Exception& e) {
    r.problem(e.mark, "YAML syntax error: " + e.msg,
              "check indentation (spaces, not tabs), colons, quotes and "
              "brackets here and on the lines before");
  }
  throw config_error(r.sorted_problems());
}

config_error::config_error(std::vector<std::string> problems)
    : std::runtime_error(join(problems))
    , problems_(std::move(problems)) {}

actors::topology load_topology(const std::string& path,
                               const load_options& options) {
  reader r(path);
  auto root = detail::load_yaml(r, path, "topology");
  return read_topology(r, root, path, options);
}

actors::topology load_topology_tree(YAML::Node root, const std::string& path,
                                    const load_options& options) {
  reader r(path);
  auto topo = read_topology(r, root, path, options);
  r.rewrite_paths();
  return topo;
}

} // namespace metronome::launcher
