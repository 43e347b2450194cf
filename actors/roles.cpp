#include "actors/roles.hpp"

#include "algorithms/cutoff/bdsgd.hpp"
#include "algorithms/data/brown_loader.hpp"
#include "algorithms/data/docword_loader.hpp"
#include "algorithms/data/idx_loader.hpp"
#include "algorithms/data/libsvm_loader.hpp"
#include "algorithms/lasso/program.hpp"
#include "algorithms/lda/data_program.hpp"
#include "algorithms/lda/program.hpp"
#include "algorithms/program.hpp"
#include "algorithms/sgd/minibatch.hpp"
#include "algorithms/sgd/models.hpp"
#include "algorithms/sgd/program.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <mutex>

namespace metronome::actors {

messages::header sender::header(const std::string& destination,
                                std::int64_t clock, std::uint32_t table) {
  messages::header h;
  h.source = env_.name;
  h.destination = destination;
  h.seq = ++seq_;
  h.clock = clock;
  h.table_id = table;
  return h;
}

void sender::control(const std::string& destination,
                     messages::wire::Command cmd, const std::string& reason) {
  messages::envelope_builder builder(256);
  auto body = messages::wire::CreateControl(builder.fbb(), cmd,
                                            builder.fbb().CreateString(reason));
  post(builder.finish(header(destination), messages::wire::Body::Control,
                      body.Union()));
}

void sender::knob(const std::string& destination, const knob_setting& k,
                  std::int64_t clock) {
  messages::envelope_builder builder(256);
  auto& fbb = builder.fbb();
  auto body = messages::wire::CreateKnob(fbb, k.id, fbb.CreateString(k.name),
                                         fbb.CreateString(k.table), k.value,
                                         static_cast<std::uint8_t>(k.phase));
  post(builder.finish(header(destination, clock), messages::wire::Body::Knob,
                      body.Union()));
}

knob_setting knob_of(const messages::inbound& msg) {
  const auto* k = msg.envelope().body_as_Knob();
  knob_setting out;
  out.id = k->id();
  out.name = k->name() ? k->name()->str() : "";
  out.table = k->table() ? k->table()->str() : "";
  out.value = k->value();
  out.phase = k->phase();
  return out;
}

std::unique_ptr<ps_client> reader_of(sender& out, std::vector<partition> parts,
                                     std::vector<bool> subscribed) {
  return std::make_unique<ps_client>(
      std::move(parts), std::move(subscribed),
      [&out](const std::string& to, std::int64_t clock, std::uint32_t table) {
        return out.header(to, clock, table);
      },
      [&out](messages::outbound m) { out.post(std::move(m)); });
}

job_members::job_members(const topology& topo, const std::string& coordinator) {
  for (const auto& name : topo.all_actors())
    if (name != coordinator)
      expected_.insert(name);
}

bool job_members::hello(const messages::inbound& msg) {
  const auto* hello = msg.envelope().body_as_Hello();
  if (hello->actors() != nullptr)
    for (const auto* a : *hello->actors())
      if (expected_.count(a->str()))
        present_.insert(a->str());
  if (complete_ || present_.size() < expected_.size())
    return false;
  complete_ = true;
  return true;
}

std::vector<std::string> job_members::absent() const {
  std::vector<std::string> out;
  for (const auto& name : expected_)
    if (!present_.count(name))
      out.push_back(name);
  return out;
}

std::string job_members::missing() const {
  std::string out;
  for (const auto& name : expected_)
    if (!present_.count(name))
      out += (out.empty() ? "" : ", ") + name;
  return out;
}

void job_members::command(sender& out, messages::wire::Command cmd,
                          const std::string& reason) const {
  for (const auto& name : expected_)
    out.control(name, cmd, reason);
}

void job_members::abort(caf::event_based_actor* self, sender& out,
                        const std::string& reason) const {
  spdlog::error("job aborted: {}", reason);
  command(out, messages::wire::Command::Abort, reason);
  self->quit(aborted_elsewhere);
}

void job_members::remind(caf::event_based_actor* self) const {
  if (complete_)
    return;
  spdlog::info("waiting for actors to say hello: {}", missing());
  self->delayed_send(self, std::chrono::seconds(5), tick_atom::value);
}

std::string abort_reason(const messages::inbound& msg) {
  const auto* ctl = msg.envelope().body_as_Control();
  return ctl->reason() ? ctl->reason()->str() : "no reason";
}

void keep_exception_messages(caf::event_based_actor* self) {
  self->set_exception_handler(
      [](caf::scheduled_actor*, std::exception_ptr& eptr) -> caf::error {
        try {
          std::rethrow_exception(eptr);
        } catch (const std::exception& e) {
          return caf::make_error(caf::sec::runtime_error, e.what());
        } catch (...) {
          return caf::make_error(caf::sec::runtime_error, "unknown exception");
        }
      });
}

bool stop_on(caf::event_based_actor* self, messages::wire::Command cmd) {
  if (cmd == messages::wire::Command::Stop)
    self->quit();
  else if (cmd == messages::wire::Command::Abort)
    self->quit(aborted_elsewhere);
  else
    return false;
  return true;
}

caf::behavior refuse_to_start(caf::event_based_actor* self,
                              const actor_env& env, const std::exception& e) {
  spdlog::error("{}: cannot start: {}", env.name, e.what());
  self->quit(caf::make_error(caf::sec::runtime_error, e.what()));
  return {};
}

void stop_if_coordinator_lost(caf::event_based_actor* self,
                              const actor_env& env,
                              const std::string& dead_node) {
  const auto* coordinator = env.topo->node_of("coordinator/0");
  if (coordinator == nullptr || coordinator->name != dead_node)
    return;
  spdlog::error("{}: coordinator node {} is dead; stopping", env.name,
                dead_node);
  self->quit(aborted_elsewhere);
}

namespace {

// Samples [0, n) of a file, or `part`'s shard of them.
algorithms::shard_range part_of(std::size_t n, data_part part) {
  if (part.workers == 0)
    return {0, 0};
  return algorithms::data_shard(n, part.workers, part.rank);
}

algorithms::dataset load_data(const data_spec& spec, bool test,
                              data_part part) {
  auto limit = test ? spec.test_limit : spec.train_limit;
  if (spec.format == "idx") {
    const auto& images = test ? spec.test_images : spec.train_images;
    const auto& labels = test ? spec.test_labels : spec.train_labels;
    std::size_t n = algorithms::read_idx_header(images, true).count;
    if (limit > 0 && limit < n)
      n = limit;
    return algorithms::load_idx(images, labels, limit, part_of(n, part));
  }
  std::size_t features =
      test ? job_data(spec, false, data_part::none())->num_features : 0;
  auto d = algorithms::load_libsvm(test ? spec.test : spec.train, features);
  std::size_t n = d.num_samples();
  if (limit > 0 && limit < n)
    n = limit;
  auto keep = part_of(n, part);
  if (keep.begin == 0 && keep.end == d.num_samples())
    return d;
  // The first `n` samples are the job's whole training set.
  auto out = algorithms::slice(d, keep.begin, keep.end);
  out.file_samples = keep.size() == n ? 0 : n;
  return out;
}

} // namespace

std::shared_ptr<const algorithms::dataset> job_data(const data_spec& spec,
                                                    bool test, data_part part) {
  static std::mutex mtx;
  static std::map<std::string, std::shared_ptr<const algorithms::dataset>>
      cache;
  if (test)
    part = data_part::whole();
  std::string key = fmt::format(
      "{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}/{}", spec.format, test ? "test" : "train",
      spec.train_images, spec.test_images, spec.train, spec.test,
      test ? spec.test_limit : spec.train_limit, part.rank, part.workers);
  {
    std::lock_guard<std::mutex> guard{mtx};
    if (auto it = cache.find(key); it != cache.end())
      return it->second;
  }
  auto d =
      std::make_shared<const algorithms::dataset>(load_data(spec, test, part));
  std::lock_guard<std::mutex> guard{mtx};
  return cache.emplace(key, std::move(d)).first->second;
}

std::shared_ptr<const algorithms::regression_data>
job_regression_data(const data_spec& spec) {
  static std::mutex mtx;
  static std::shared_ptr<const algorithms::regression_data> cached;
  std::lock_guard<std::mutex> guard{mtx};
  if (!cached)
    cached = std::make_shared<const algorithms::regression_data>(
        algorithms::load_libsvm_regression(spec.train));
  return cached;
}

std::shared_ptr<const algorithms::lda::corpus>
job_corpus(const data_spec& spec) {
  static std::mutex mtx;
  static std::shared_ptr<const algorithms::lda::corpus> cached;
  std::lock_guard<std::mutex> guard{mtx};
  if (!cached)
    cached = std::make_shared<const algorithms::lda::corpus>(
        spec.format == "brown"
            ? algorithms::load_brown(spec.dir, spec.stopwords)
            : algorithms::load_docword(spec.docword, spec.vocab));
  return cached;
}

namespace {

// A scheduled program's side that keeps the data it refers to alive.
template <class Program, class Data>
struct holding : Program {
  template <class... Args>
  explicit holding(std::shared_ptr<const Data> d, Args&&... args)
      : Program(*d, std::forward<Args>(args)...)
      , data(std::move(d)) {}
  std::shared_ptr<const Data> data;
};

template <class Program, class Data, class... Args>
std::unique_ptr<Program> hold(std::shared_ptr<const Data> d, Args&&... args) {
  return std::make_unique<holding<Program, Data>>(std::move(d),
                                                  std::forward<Args>(args)...);
}

// The scheduled programs the roles can host: adding one adds a line here.
struct scheduled_program {
  std::unique_ptr<algorithms::round_planner> (*planner)(const topology&);
  std::unique_ptr<algorithms::round_worker> (*worker)(const topology&,
                                                      std::size_t rank);
};

std::unique_ptr<algorithms::round_planner> lasso_planner(const topology& t) {
  return hold<algorithms::lasso::planner>(job_regression_data(t.job.data),
                                          t.job.lasso, t.count("worker"));
}

std::unique_ptr<algorithms::round_worker> lasso_worker(const topology& t,
                                                       std::size_t rank) {
  return hold<algorithms::lasso::worker>(job_regression_data(t.job.data),
                                         t.job.lasso.solver.fit_intercept, rank,
                                         t.count("worker"));
}

std::unique_ptr<algorithms::round_planner> lda_planner(const topology& t) {
  return hold<algorithms::lda::planner>(job_corpus(t.job.data), t.job.lda,
                                        t.count("worker"));
}

std::unique_ptr<algorithms::round_worker> lda_worker(const topology& t,
                                                     std::size_t rank) {
  return hold<algorithms::lda::worker>(job_corpus(t.job.data), t.job.lda, rank,
                                       t.count("worker"));
}

const scheduled_program& scheduled_program_of(const topology& topo) {
  static const std::map<std::string, scheduled_program> registered = {
      {"lasso", {lasso_planner, lasso_worker}},
      {"lda", {lda_planner, lda_worker}}};
  auto it = registered.find(topo.job.algorithm);
  if (it == registered.end())
    throw std::invalid_argument("algorithm " + topo.job.algorithm +
                                " is not a scheduled program");
  return it->second;
}

} // namespace

std::unique_ptr<algorithms::round_planner>
make_round_planner(const topology& topo) {
  return scheduled_program_of(topo).planner(topo);
}

std::unique_ptr<algorithms::round_worker>
make_round_worker(const topology& topo, std::size_t rank) {
  return scheduled_program_of(topo).worker(topo, rank);
}

std::unique_ptr<algorithms::model> job_model(const job_spec& job,
                                             const algorithms::dataset& d) {
  return algorithms::make_model(job.algorithm, d, job.hidden);
}

std::shared_ptr<const algorithms::data_parallel_program>
job_program(const topology& topo, bool evaluates, data_part part) {
  const auto& job = topo.job;
  if (job.algorithm == "lda")
    return hold<algorithms::lda::data_program>(job_corpus(job.data), job.lda,
                                               topo.count("worker"));
  auto train = job_data(job.data, false, part);
  auto model = job_model(job, *train);
  algorithms::sgd_settings s{job.batch_size, job.learning_rate, job.seed};
  return std::make_shared<const algorithms::sgd_program>(
      train, evaluates ? job_data(job.data, true) : nullptr, std::move(model),
      s);
}

std::vector<table_layout>
job_tables(const job_spec& job,
           const algorithms::data_parallel_program* program,
           std::uint64_t keys) {
  if (job.tables.empty() || program == nullptr)
    return {{"all", {0, keys}, job.consistency, job.staleness}};
  std::vector<table_layout> out;
  for (const auto& block : program->blocks()) {
    table_layout t{block.name,
                   {block.offset, block.offset + block.size},
                   job.consistency,
                   job.staleness};
    for (const auto& spec : job.tables)
      if (spec.name == block.name) {
        t.consistency = spec.consistency;
        t.staleness = spec.staleness;
      }
    out.push_back(std::move(t));
  }
  return out;
}

std::shared_ptr<algorithms::cutoff_rule>
make_job_cutoff_rule(const cutoff_job_spec& spec, std::uint64_t seed) {
  if (spec.rule.rule != "bdsgd")
    return algorithms::make_cutoff_rule(spec.rule);
  algorithms::bdsgd_options options;
  options.samples = spec.samples;
  options.lag = spec.lag;
  options.imputation.copies = spec.particles;
  options.history = std::max(spec.history, options.history);
  options.seed = seed;
  auto model =
      std::make_shared<const algorithms::dmm>(algorithms::load_dmm(spec.model));
  return std::make_shared<algorithms::bdsgd>(std::move(model), options);
}

std::string cutoff_rule_label(const algorithms::cutoff_spec& spec) {
  if (spec.rule == "static")
    return "static backups=" + std::to_string(spec.backups);
  if (spec.rule == "elfving" || spec.rule == "ecdf")
    return spec.rule + " window=" + std::to_string(spec.window);
  return spec.rule;
}

job_schedule schedule_of(const topology& topo, std::size_t samples) {
  auto workers = std::max<std::size_t>(1, topo.count("worker"));
  auto smallest = algorithms::data_shard(samples, workers, workers - 1);
  job_schedule s;
  s.batches_per_epoch =
      algorithms::batches_per_epoch(smallest, topo.job.batch_size);
  s.iterations =
      topo.job.iterations > 0
          ? topo.job.iterations
          : s.batches_per_epoch * std::max<std::size_t>(1, topo.job.epochs);
  s.eval_every =
      topo.job.eval_every > 0 ? topo.job.eval_every : s.batches_per_epoch;
  return s;
}

} // namespace metronome::actors
