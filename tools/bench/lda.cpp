#include "tools/bench/lda.hpp"

#include "actors/core/job_records.hpp"
#include "actors/roles.hpp"
#include "algorithms/lda/program.hpp"

#include <fmt/format.h>

#include <chrono>

namespace metronome::tools {

namespace lda = algorithms::lda;

namespace {

// The training documents of the job (without held-out ones), as one corpus.
lda::corpus training_corpus(const lda::corpus& c,
                            const lda::program_settings& s) {
  auto split = lda::split_documents(c, s.heldout, 1, s.seed);
  lda::corpus train;
  train.vocabulary = c.vocabulary;
  for (auto d : split.workers[0]) {
    train.words.insert(train.words.end(), c.words.begin() + c.offsets[d],
                       c.words.begin() + c.offsets[d + 1]);
    train.offsets.push_back(train.words.size());
  }
  return train;
}

actors::json bench_one(const lda::corpus& c, const lda::program_settings& s,
                       lda::sampler_kind kind) {
  auto h = s.model;
  h.vocabulary = c.vocabulary.size();
  auto start = std::chrono::steady_clock::now();
  auto r = lda::run_serial(c, h, kind, s.mh_steps, s.iterations, s.seed);
  std::chrono::duration<double> wall = std::chrono::steady_clock::now() - start;
  actors::json row = {
      {"sampler", lda::sampler_names()[static_cast<std::size_t>(kind)]},
      {"topics", h.topics},
      {"iterations", s.iterations},
      {"tokens", r.stats.tokens},
      {"wall_s", wall.count()},
      {"tokens_per_s", r.stats.tokens / wall.count()},
      {"sampling_s", r.sampling_seconds.back()},
      {"sampling_tokens_per_s", r.stats.tokens / r.sampling_seconds.back()},
      {"log_likelihood_per_token", r.log_likelihood_per_token},
      {"sampling_s_per_iteration", r.sampling_seconds}};
  if (r.stats.proposals > 0)
    row["acceptance"] = static_cast<double>(r.stats.accepted) /
                        static_cast<double>(r.stats.proposals);
  return row;
}

} // namespace

int run_lda_bench(const actors::topology& topo,
                  const lda_bench_options& options) {
  if (topo.job.algorithm != "lda") {
    fmt::print(stderr, "{}: bench lda needs a topology of algorithm lda\n",
               options.config);
    return 2;
  }
  auto s = topo.job.lda;
  if (options.iterations > 0)
    s.iterations = options.iterations;
  if (options.topics > 0)
    s.model.topics = options.topics;
  std::vector<lda::sampler_kind> kinds;
  for (const auto& name :
       options.samplers.empty() ? lda::sampler_names() : options.samplers)
    kinds.push_back(*lda::find_sampler(name));
  auto corpus = training_corpus(*actors::job_corpus(topo.job.data), s);
  actors::json rows = actors::json::array();
  bool complete = true;
  for (auto kind : kinds) {
    auto row = bench_one(corpus, s, kind);
    std::uint64_t wanted = corpus.tokens() * s.iterations;
    if (row["tokens"].get<std::uint64_t>() != wanted) {
      fmt::print(stderr, "{} sampled {} tokens, not {}\n",
                 row["sampler"].get<std::string>(),
                 row["tokens"].get<std::uint64_t>(), wanted);
      complete = false;
    }
    fmt::print(stderr, "{}: {:.0f} tokens/s\n",
               row["sampler"].get<std::string>(),
               row["tokens_per_s"].get<double>());
    rows.push_back(std::move(row));
  }
  actors::json out = {{"documents", corpus.documents()},
                      {"tokens", corpus.tokens()},
                      {"vocabulary", corpus.vocabulary.size()},
                      {"rows", rows}};
  fmt::print("{}\n", out.dump());
  return complete ? 0 : 1;
}

} // namespace metronome::tools
