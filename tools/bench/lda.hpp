#pragma once

#include "actors/core/topology.hpp"

#include <string>
#include <vector>

namespace metronome::tools {

/// What `metronome bench lda` runs.
struct lda_bench_options {
  std::string config; ///< an lda topology: its corpus and job.lda
  /// Samplers to run (names of algorithms::lda::sampler_names()); empty:
  /// every one.
  std::vector<std::string> samplers;
  std::size_t iterations = 0; ///< 0: job.lda.iterations
  std::size_t topics = 0;     ///< 0: job.lda.topics
};

/// Runs the serial sampler of each of `options.samplers` in one thread on
/// the job's corpus (without its held-out documents) and prints one JSON
/// object: a row per sampler with the tokens it sampled, its wall time,
/// tokens per second (with and without the likelihood computed after
/// every iteration) and log-likelihood per token after each iteration.
/// Fails (exit 1) when a sampler sampled fewer tokens than iterations times
/// the corpus, 2 on bad options. Returns the exit code.
int run_lda_bench(const actors::topology& topo,
                  const lda_bench_options& options);

/// What `metronome bench lda-heldout` does.
struct lda_heldout_options {
  std::string config; ///< an lda topology: its corpus and job.lda
  /// Writes the job's training documents (the corpus without its held-out
  /// ones) as UCI docword and vocab files, for another system to train on.
  std::string training_docword, training_vocab;
  /// Scores the held-out documents with these word-topic counts (the form
  /// of load_word_topic_counts, e.g. LightLDA's model dump).
  std::string counts;
};

/// Writes the training documents and/or scores the job's held-out
/// documents (job.lda.heldout, job.lda.seed) by document completion with
/// the counts given, the estimator LDA jobs report, and prints one JSON
/// object (documents, tokens scored, heldout_log_likelihood_per_token).
/// Returns the exit code: 2 for bad options or files.
int run_lda_heldout(const actors::topology& topo,
                    const lda_heldout_options& options);

} // namespace metronome::tools
