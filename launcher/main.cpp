#include "launcher/cli_checks.hpp"
#include "launcher/config.hpp"
#include "launcher/experiment/command.hpp"
#include "launcher/inspect/inspect.hpp"
#include "launcher/predictor_train.hpp"
#include "launcher/runtime.hpp"
#include "launcher/supervisor.hpp"
#include "tools/bench/cutoffs.hpp"
#include "tools/bench/lda.hpp"
#include "tools/bench/pushpull.hpp"
#include "tools/bench/scaling.hpp"
#include "tools/bench/sequential.hpp"
#include "tools/data/generate.hpp"

#include "algorithms/data/libsvm_loader.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <climits>
#include <cstdio>

namespace {

using metronome::launcher::any_count;
using metronome::launcher::count_in;
using metronome::launcher::number_in;
using metronome::launcher::output_file;

std::string self_executable(const char* argv0) {
  char buf[PATH_MAX];
  auto n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    return argv0;
  buf[n] = '\0';
  return buf;
}

// Loads a topology, printing every problem; exit code 2 on bad input.
bool load(const std::string& path, metronome::actors::topology& topo,
          metronome::launcher::load_options options = {}) {
  try {
    topo = metronome::launcher::load_topology(path, options);
    return true;
  } catch (const metronome::launcher::config_error& e) {
    for (const auto& p : e.problems())
      fmt::print(stderr, "{}\n", p);
    fmt::print(stderr, "{} problem{} in {}; nothing was started\n",
               e.problems().size(), e.problems().size() == 1 ? "" : "s", path);
    return false;
  }
}

// `data lda`: a synthetic LDA corpus in the UCI format with its topics.
CLI::App* add_lda_data(CLI::App& data, metronome::tools::lda_data_options& o) {
  auto* lda = data.add_subcommand(
      "lda", "A UCI bag-of-words corpus drawn from known LDA topics");
  lda->add_option("--docword", o.docword, "docword file to write")
      ->required()
      ->check(output_file());
  lda->add_option("--vocab", o.vocab, "Vocabulary file to write")
      ->required()
      ->check(output_file());
  lda->add_option("--topics-out", o.topics,
                  "True topics file (default: DOCWORD.topics)")
      ->check(output_file());
  auto& s = o.spec;
  lda->add_option("--topics", s.topics, "Topics K")->check(count_in(1, 10000));
  lda->add_option("--vocabulary", s.vocabulary, "Vocabulary size V")
      ->check(count_in(1, 10000000));
  lda->add_option("--documents", s.documents, "Documents D")
      ->check(count_in(1, 100000000));
  lda->add_option("--mean-length", s.mean_length, "Mean tokens per document")
      ->check(number_in(1.0, 1e6));
  lda->add_option("--alpha", s.alpha, "Dirichlet prior of the mixtures")
      ->check(number_in(1e-6, 1e6));
  lda->add_option("--beta", s.beta, "Dirichlet prior of the topics")
      ->check(number_in(1e-6, 1e6));
  lda->add_option("--seed", s.seed, "Seed")->check(any_count());
  return lda;
}

// `bench lda`: the serial samplers on an lda topology's corpus.
CLI::App* add_lda_bench(CLI::App& bench,
                        metronome::tools::lda_bench_options& o) {
  auto* lda = bench.add_subcommand(
      "lda", "Tokens per second of each LDA sampler in one thread");
  lda->add_option("config", o.config, "Topology YAML file of an lda job")
      ->required()
      ->check(CLI::ExistingFile);
  lda->add_option("--samplers", o.samplers, "Samplers to run (default: all)")
      ->delimiter(',')
      ->check(CLI::IsMember(metronome::algorithms::lda::sampler_names()));
  lda->add_option("--iterations", o.iterations,
                  "Iterations (default: job.lda.iterations)")
      ->check(count_in(1, 100000));
  lda->add_option("--topics", o.topics, "Topics (default: job.lda.topics)")
      ->check(count_in(1, 65535));
  return lda;
}

// `bench scaling`: the job as sequential SGD and with each worker count.
CLI::App* add_scaling_bench(CLI::App& bench,
                            metronome::tools::scaling_bench_options& o) {
  auto* scaling = bench.add_subcommand(
      "scaling", "An SGD job sequentially and with 1, 2, 4 workers: "
                 "speed-ups, time to a target, blocked time, traffic");
  scaling->add_option("config", o.config, "Topology YAML file of an SGD job")
      ->required()
      ->check(CLI::ExistingFile);
  scaling->add_option("--workers", o.workers, "Worker counts (default 1,2,4)")
      ->delimiter(',')
      ->check(count_in(1, 64));
  scaling->add_option("--mode", o.mode, "Trials as run or launch (default run)")
      ->check(CLI::IsMember({"run", "launch"}));
  scaling->add_option("--target", o.target,
                      "test_accuracy>=V or test_loss<=V (default: the "
                      "sequential final accuracy - 0.005)");
  scaling->add_option("--out", o.out,
                      "Folder of the trials (default runs/bench-scaling)");
  scaling->add_flag("--json", o.json, "Print one JSON object");
  return scaling;
}

// `bench lda-heldout`: another system's model judged on the job's held-out
// documents.
CLI::App* add_lda_heldout(CLI::App& bench,
                          metronome::tools::lda_heldout_options& o) {
  auto* heldout = bench.add_subcommand(
      "lda-heldout", "Write an lda job's training documents, or score "
                     "word-topic counts on its held-out documents");
  heldout->add_option("config", o.config, "Topology YAML file of an lda job")
      ->required()
      ->check(CLI::ExistingFile);
  auto* docword = heldout
                      ->add_option("--training-docword", o.training_docword,
                                   "UCI docword file of the training documents")
                      ->check(output_file());
  heldout
      ->add_option("--training-vocab", o.training_vocab, "Its vocabulary file")
      ->check(output_file())
      ->needs(docword);
  docword->needs("--training-vocab");
  heldout
      ->add_option("--counts", o.counts,
                   "Word-topic counts to score (LightLDA's model dump form)")
      ->check(CLI::ExistingFile);
  return heldout;
}

} // namespace

int main(int argc, char** argv) {
  // Logs go to stderr; stdout carries results (progress, the final JSON).
  spdlog::set_default_logger(spdlog::stderr_color_mt("metronome"));
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  CLI::App app{"metronome: an actor runtime for distributed machine learning"};
  app.require_subcommand(1);

  std::string config;
  auto* run = app.add_subcommand(
      "run", "Run a whole job in this process (every node on inproc://)");
  run->add_option("config", config, "Topology YAML file")
      ->required()
      ->check(CLI::ExistingFile);

  metronome::launcher::launch_options launch_opts;
  bool no_progress = false;
  auto* launch = app.add_subcommand(
      "launch", "Validate a topology, start every node (locally or through "
                "the remote command) and supervise them");
  launch->add_option("config", config, "Topology YAML file")
      ->required()
      ->check(CLI::ExistingFile);
  launch->add_flag("--dry-run", launch_opts.dry_run,
                   "Print which process starts where, with what command");
  launch->add_flag("--no-progress", no_progress,
                   "Show only the nodes' output, no progress display");
  launch
      ->add_option("--stop-grace", launch_opts.stop_grace_seconds,
                   "Seconds nodes get to stop before they are killed")
      ->check(number_in(0.001, 3600));

  std::string node_name;
  auto* node = app.add_subcommand("node", "Run one node of a topology");
  node->add_option("--topology,-t", config, "Topology YAML file")
      ->required()
      ->check(CLI::ExistingFile);
  node->add_option("--name,-n", node_name,
                   "Name of the node to run (default: $METRONOME_NODE, or "
                   "$SLURM_PROCID / $OMPI_COMM_WORLD_RANK as an index into "
                   "the node list)");

  bool watch_stdin = false;
  node->add_flag("--watch-stdin", watch_stdin,
                 "Stop when standard input ends (used by launch)");

  auto* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);
  metronome::tools::pushpull_options bench_opts;
  auto* pushpull = bench->add_subcommand(
      "pushpull", "Push/pull throughput and latency against raw ZeroMQ");
  pushpull->add_flag("--json", bench_opts.json, "Print one JSON object");
  pushpull->add_option("--seconds", bench_opts.seconds, "Time per measurement")
      ->check(number_in(0.001, 3600));
  pushpull
      ->add_option("--repeat", bench_opts.repeat,
                   "Alternating runs of each side; medians are reported")
      ->check(count_in(1, 1000));
  pushpull
      ->add_option("--server-thread", bench_opts.server_thread,
                   "Where the server runs: transport (its node's transport "
                   "thread) or scheduler (CAF's threads)")
      ->check(CLI::IsMember({"transport", "scheduler"}));

  auto* sequential = bench->add_subcommand(
      "sequential", "The job of a topology as sequential SGD in one thread");
  sequential->add_option("config", config, "Topology YAML file")
      ->required()
      ->check(CLI::ExistingFile);
  bool compare_sequential = false;
  sequential->add_flag("--compare", compare_sequential,
                       "Also say the wall time of the job's own last run "
                       "(its metrics_dir's summary.json) and the speed-up");

  metronome::tools::lda_bench_options lda_bench_opts;
  auto* lda_bench = add_lda_bench(*bench, lda_bench_opts);
  metronome::tools::lda_heldout_options lda_heldout_opts;
  auto* lda_heldout = add_lda_heldout(*bench, lda_heldout_opts);

  metronome::tools::scaling_bench_options scaling_opts;
  auto* scaling = add_scaling_bench(*bench, scaling_opts);

  metronome::tools::cutoff_bench_options cutoff_opts;
  auto* cutoffs = bench->add_subcommand(
      "cutoffs", "Cutoff rules replayed on run-times, against the oracle");
  cutoffs
      ->add_option("--scenario", cutoff_opts.scenario,
                   "Synthetic run-times: regime or groups")
      ->check(CLI::IsMember({"regime", "groups"}));
  cutoffs
      ->add_option("--p-slow", cutoff_opts.p_slow,
                   "regime: probability a group turns slow per iteration")
      ->check(number_in(0, 1));
  cutoffs
      ->add_option("--p-recover", cutoff_opts.p_recover,
                   "regime: probability a slow group recovers")
      ->check(number_in(0, 1));
  cutoffs
      ->add_option("--trace", cutoff_opts.trace,
                   "Replay a recorded uncensored trace instead")
      ->check(CLI::ExistingFile);
  cutoffs->add_option("--workers", cutoff_opts.workers, "Synthetic workers")
      ->check(count_in(2, 1024));
  cutoffs
      ->add_option("--train", cutoff_opts.train,
                   "Iterations the bdsgd model is trained on")
      ->check(count_in(20, 1000000));
  cutoffs->add_option("--test", cutoff_opts.test, "Iterations replayed")
      ->check(count_in(20, 1000000));
  cutoffs->add_option("--seed", cutoff_opts.seed, "Seed")->check(any_count());
  cutoffs
      ->add_option("--samples", cutoff_opts.samples,
                   "bdsgd's joint run-time samples per decision")
      ->check(count_in(1, 100000));
  cutoffs
      ->add_option("--lag", cutoff_opts.lag,
                   "bdsgd's window of recent iterations per decision")
      ->check(count_in(1, 10000));
  cutoffs
      ->add_option("--particles", cutoff_opts.particles,
                   "bdsgd's latent paths per censored window")
      ->check(count_in(1, 10000));
  cutoffs->add_flag("--json", cutoff_opts.json, "Print one JSON object");

  auto* data = app.add_subcommand("data", "Generate data sets");
  data->require_subcommand(1);
  metronome::tools::lasso_data_options lasso_data;
  auto& gen = lasso_data.spec;
  auto* lasso = data->add_subcommand(
      "lasso", "A LIBSVM regression problem with a known sparse truth");
  lasso->add_option("--out", lasso_data.out, "LIBSVM file to write")
      ->required()
      ->check(output_file());
  lasso->add_option("--samples", gen.samples, "Rows")
      ->check(count_in(1, 100000000));
  lasso->add_option("--features", gen.features, "Columns")
      ->check(count_in(1, metronome::algorithms::libsvm_max_features));
  lasso
      ->add_option("--nonzeros-per-row", gen.nonzeros_per_row,
                   "Stored entries per row (0: dense)")
      ->check(count_in(0, metronome::algorithms::libsvm_max_features));
  lasso
      ->add_option("--block-size", gen.block_size,
                   "Columns sharing a latent factor")
      ->check(count_in(1, metronome::algorithms::libsvm_max_features));
  lasso
      ->add_option("--correlation", gen.correlation,
                   "Correlation within a block")
      ->check(number_in(0.0, 0.999999));
  lasso
      ->add_option("--true-nonzeros", gen.true_nonzeros,
                   "Non-zero true coefficients")
      ->check(count_in(0, metronome::algorithms::libsvm_max_features));
  lasso->add_option("--noise", gen.noise, "Noise standard deviation")
      ->check(number_in(0.0, 1e6));
  lasso->add_option("--seed", gen.seed, "Seed")->check(any_count());
  metronome::tools::lda_data_options lda_data;
  auto* lda = add_lda_data(*data, lda_data);

  auto* predictor = app.add_subcommand("predictor", "BDSGD's run-time model");
  predictor->require_subcommand(1);
  metronome::launcher::predictor_train_options train_opts;
  auto* train = predictor->add_subcommand(
      "train", "Train the run-time model on a recorded trace");
  train
      ->add_option("--trace", train_opts.trace,
                   "Trace CSV: iteration,worker,seconds[,censored]")
      ->required()
      ->check(CLI::ExistingFile);
  train->add_option("--out", train_opts.out, "Model file to write")
      ->required()
      ->check(output_file());
  train->add_option("--epochs", train_opts.epochs, "Training epochs")
      ->check(count_in(1, 100000));
  train->add_option("--latent", train_opts.latent, "Latent dimensions")
      ->check(count_in(1, 256));
  train
      ->add_option("--lag", train_opts.lag,
                   "Iterations a prediction conditions on")
      ->check(count_in(1, 10000));
  train->add_option("--seed", train_opts.seed, "Seed")->check(any_count());
  train
      ->add_option("--holdout", train_opts.holdout,
                   "Fraction of the trace's end held out for the report")
      ->check(number_in(0.0, 0.9));

  metronome::launcher::experiment::command_options experiment_opts;
  auto* experiment =
      metronome::launcher::experiment::add_command(app, experiment_opts);

  metronome::launcher::inspect_options inspect_opts;
  auto* inspect = metronome::launcher::add_inspect(app, inspect_opts);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (*inspect)
    return metronome::launcher::run_inspect(inspect_opts);
  metronome::actors::topology topo;
  if (*run) {
    if (!load(config, topo))
      return 2;
    return metronome::launcher::run_in_process(topo);
  }
  if (*launch) {
    metronome::launcher::load_options options;
    // Nodes started by this launch will take the ports: check them now.
    options.check_ports_free = !launch_opts.dry_run;
    if (!load(config, topo, options))
      return 2;
    launch_opts.progress = !no_progress;
    return metronome::launcher::launch(topo, config, self_executable(argv[0]),
                                       launch_opts);
  }
  if (*node) {
    if (!load(config, topo))
      return 2;
    std::string error;
    node_name = metronome::launcher::node_identity(topo, node_name, error);
    if (node_name.empty()) {
      fmt::print(stderr, "{}: {}\n", config, error);
      return 2;
    }
    return metronome::launcher::run_node(topo, node_name, watch_stdin);
  }
  if (*experiment)
    return metronome::launcher::experiment::run_command(
        experiment_opts, self_executable(argv[0]));
  if (*train)
    return metronome::launcher::run_predictor_train(train_opts);
  if (*lasso)
    return metronome::tools::run_lasso_data(lasso_data);
  if (*lda)
    return metronome::tools::run_lda_data(lda_data);
  if (*cutoffs)
    return metronome::tools::run_cutoff_bench(cutoff_opts);
  if (*pushpull)
    return metronome::tools::run_pushpull(bench_opts);
  if (*lda_bench) {
    if (!load(lda_bench_opts.config, topo))
      return 2;
    return metronome::tools::run_lda_bench(topo, lda_bench_opts);
  }
  if (*lda_heldout) {
    if (!load(lda_heldout_opts.config, topo))
      return 2;
    return metronome::tools::run_lda_heldout(topo, lda_heldout_opts);
  }
  if (*scaling) {
    if (!load(scaling_opts.config, topo))
      return 2;
    return metronome::tools::run_scaling_bench(topo, scaling_opts,
                                               self_executable(argv[0]));
  }
  if (*sequential) {
    if (!load(config, topo))
      return 2;
    return metronome::tools::run_sequential(topo, compare_sequential);
  }
  return 2;
}
