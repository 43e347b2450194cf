#include "tools/bench/lda.hpp"

#include "actors/core/job_records.hpp"
#include "actors/roles.hpp"
#include "algorithms/data/docword_loader.hpp"
#include "algorithms/data/word_topic_loader.hpp"
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

namespace {

// The held-out score of `rows` (every word) on the job's held-out
// documents, as a JSON object.
actors::json heldout_score(const lda::corpus& c, const lda::program_settings& s,
                           const lda::word_topic_rows& rows) {
  auto h = s.model;
  h.vocabulary = c.vocabulary.size();
  std::vector<std::int64_t> totals(h.topics, 0);
  for (std::size_t i = 0; i < rows.words().size(); ++i)
    for (std::size_t k = 0; k < h.topics; ++k)
      totals[k] += rows.row(i)[k];
  auto split = lda::split_documents(c, s.heldout, 1, s.seed);
  std::vector<lda::word_topic_rows> blocks{rows};
  std::vector<std::uint32_t> one_block(c.vocabulary.size(), 0);
  auto score = lda::heldout_log_likelihood(c, split.heldout, blocks, one_block,
                                           totals, h, s.heldout_sweeps, s.seed);
  return {{"documents", split.heldout.size()},
          {"tokens", score.tokens},
          {"heldout_log_likelihood_per_token",
           score.log_likelihood / static_cast<double>(score.tokens)}};
}

} // namespace

int run_lda_heldout(const actors::topology& topo,
                    const lda_heldout_options& options) {
  const auto& s = topo.job.lda;
  if (topo.job.algorithm != "lda" || !(s.heldout > 0)) {
    fmt::print(stderr,
               "{}: bench lda-heldout needs an lda topology with "
               "job.lda.heldout > 0\n",
               options.config);
    return 2;
  }
  if (options.training_docword.empty() && options.counts.empty()) {
    fmt::print(stderr, "bench lda-heldout: give --training-docword and "
                       "--training-vocab, or --counts, or both\n");
    return 2;
  }
  const auto& c = *actors::job_corpus(topo.job.data);
  actors::json out = actors::json::object();
  try {
    if (!options.training_docword.empty()) {
      auto train = training_corpus(c, s);
      algorithms::write_docword(train, options.training_docword,
                                options.training_vocab);
      out["training_documents"] = train.documents();
      out["training_tokens"] = train.tokens();
    }
    if (!options.counts.empty())
      out.update(heldout_score(
          c, s,
          algorithms::load_word_topic_counts(
              options.counts, c.vocabulary.size(), s.model.topics)));
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench lda-heldout: {}\n", e.what());
    return 2;
  }
  fmt::print("{}\n", out.dump());
  return 0;
}

} // namespace metronome::tools
