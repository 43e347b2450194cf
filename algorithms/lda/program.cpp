#include "algorithms/lda/program.hpp"

#include "algorithms/random.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace metronome::algorithms::lda {

using nlohmann::ordered_json;
using std::chrono::steady_clock;

namespace {

hyper model_of(const corpus& c, const program_settings& s) {
  auto h = s.model;
  h.vocabulary = c.vocabulary.size();
  return h;
}

std::vector<word_topic_rows>
empty_blocks(const std::vector<std::uint32_t>& block_of_word,
             std::size_t blocks, std::size_t topics) {
  std::vector<std::vector<std::uint32_t>> words(blocks);
  for (std::size_t w = 0; w < block_of_word.size(); ++w)
    words[block_of_word[w]].push_back(static_cast<std::uint32_t>(w));
  std::vector<word_topic_rows> rows;
  for (auto& list : words)
    rows.emplace_back(std::move(list), topics);
  return rows;
}

void add(sweep_stats& to, const sweep_stats& s) {
  to.tokens += s.tokens;
  to.moved += s.moved;
  to.proposals += s.proposals;
  to.accepted += s.accepted;
}

double seconds_since(steady_clock::time_point t) {
  return std::chrono::duration<double>(steady_clock::now() - t).count();
}

std::vector<std::int64_t> to_integers(const std::vector<double>& v) {
  return {v.begin(), v.end()};
}

} // namespace

document_split split_documents(const corpus& c, double heldout,
                               std::size_t workers, std::uint64_t seed) {
  document_split split;
  split.workers.resize(workers);
  std::size_t dealt = 0;
  for (std::size_t d = 0; d < c.documents(); ++d) {
    auto draw =
        static_cast<double>(splitmix64(splitmix64(seed) ^ d) >> 11) * 0x1.0p-53;
    if (draw < heldout)
      split.heldout.push_back(d);
    else
      split.workers[dealt++ % workers].push_back(d);
  }
  return split;
}

std::uint64_t shard_seed(std::uint64_t seed, std::size_t rank) {
  return seed + 2 * rank;
}

std::uint64_t sampler_seed(std::uint64_t seed, std::size_t rank) {
  return seed + 2 * rank + 1;
}

std::size_t block_count(const program_settings& s, std::size_t workers) {
  return s.blocks != 0 ? s.blocks : 2 * workers;
}

// --- planner ----------------------------------------------------------------

planner::planner(const corpus& c, const program_settings& s,
                 std::size_t workers)
    : corpus_(c)
    , settings_(s)
    , model_(model_of(c, s))
    , workers_(workers)
    , split_(split_documents(c, s.heldout, workers, s.seed))
    , totals_(model_.topics, 0)
    , tally_(workers) {
  auto blocks = block_count(s, workers);
  if (workers == 0 || blocks < workers)
    throw std::invalid_argument(fmt::format(
        "lda: {} blocks for {} workers; every worker needs a block of its "
        "own (blocks >= workers)",
        blocks, workers));
  block_of_word_ = vocabulary_blocks(word_token_counts(c), blocks);
  dense_ = empty_blocks(block_of_word_, blocks, model_.topics);
  holder_.assign(blocks, every_worker);
  for (std::size_t w = 0; w < workers; ++w) {
    document_shard shard(c, split_.workers[w], block_of_word_, blocks, model_,
                         shard_seed(s.seed, w));
    if (shard.tokens() == 0)
      throw std::invalid_argument(fmt::format(
          "lda: worker {} has no tokens to sample; use fewer workers or a "
          "smaller heldout fraction",
          w));
    training_tokens_ += shard.tokens();
    for (std::size_t b = 0; b < blocks; ++b)
      shard.add_counts(b, dense_[b], totals_);
  }
  sparse_.resize(blocks);
  for (std::size_t b = 0; b < blocks; ++b) {
    std::vector<double> counts;
    dense_[b].nonzeros(sparse_[b].keys, counts);
    sparse_[b].counts = to_integers(counts);
  }
  dense_current_.assign(blocks, true);
}

const std::vector<word_topic_rows>& planner::blocks() const {
  for (std::size_t b = 0; b < sparse_.size(); ++b)
    if (!dense_current_[b]) {
      const auto& rows = sparse_[b];
      dense_[b].assign(rows.keys, {rows.counts.begin(), rows.counts.end()});
      dense_current_[b] = true;
    }
  return dense_;
}

bool planner::done() const {
  return iterations_done_ >= settings_.iterations && flight_.empty();
}

void planner::start_iteration() {
  for (auto& t : tally_) {
    t.todo.assign(sparse_.size(), true);
    t.left = sparse_.size();
    t.tokens = 0;
    t.compute_s = 0;
    t.doc_log_likelihood = 0;
  }
  stats_ = {};
  block_waits_ = 0;
  iteration_start_ = steady_clock::now();
  iteration_open_ = true;
}

std::optional<std::size_t> planner::choose_block(std::size_t w) const {
  auto blocks = sparse_.size();
  auto first = w * blocks / workers_;
  for (std::size_t i = 0; i < blocks; ++i) {
    auto b = (first + i) % blocks;
    if (tally_[w].todo[b] && holder_[b] == every_worker)
      return b;
  }
  return std::nullopt;
}

std::optional<round_task> planner::plan() {
  if (!iteration_open_) {
    if (iterations_done_ >= settings_.iterations)
      return std::nullopt;
    start_iteration();
  }
  for (std::size_t w = 0; w < workers_; ++w) {
    auto& t = tally_[w];
    if (t.busy || t.left == 0)
      continue;
    auto b = choose_block(w);
    if (!b) {
      ++block_waits_;
      continue;
    }
    round_task task;
    task.round = next_round_++;
    task.worker = w;
    task.task = sample_task;
    task.values = {static_cast<double>(*b),
                   static_cast<double>(iterations_done_),
                   t.left == 1 ? 1.0 : 0.0};
    task.changes.assign(totals_.begin(), totals_.end());
    task.count_keys = sparse_[*b].keys;
    task.counts = sparse_[*b].counts;
    holder_[*b] = w;
    t.busy = true;
    t.todo[*b] = false;
    --t.left;
    flight_.push_back({task.round, w, *b});
    return task;
  }
  return std::nullopt;
}

// A block's rows as a worker returns them: its words' topics in key
// order, each count positive and within int32.
void planner::check_rows(std::size_t block, const round_result& part) const {
  const auto& keys = part.count_keys;
  if (keys.size() != part.counts.size())
    throw std::invalid_argument("lda: rows with keys and counts that differ");
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto word = keys[i] / model_.topics;
    if ((i > 0 && keys[i] <= keys[i - 1]) || word >= block_of_word_.size() ||
        block_of_word_[word] != block || part.counts[i] <= 0 ||
        part.counts[i] > std::numeric_limits<std::int32_t>::max())
      throw std::invalid_argument(fmt::format(
          "lda: entry {} of block {}'s rows (key {}, count {}) does not fit", i,
          block, keys[i], part.counts[i]));
  }
}

void planner::take_part(std::size_t block, std::size_t w,
                        const round_result& part) {
  if (part.values.size() != result_fields + model_.topics)
    throw std::invalid_argument(
        fmt::format("lda: a result of {} values for {} topics",
                    part.values.size(), model_.topics));
  check_rows(block, part);
  sparse_[block] = {part.count_keys, part.counts};
  dense_current_[block] = false;
  for (std::size_t k = 0; k < model_.topics; ++k) {
    totals_[k] += static_cast<std::int64_t>(part.values[result_fields + k]);
    if (totals_[k] < 0)
      throw std::logic_error(
          fmt::format("lda: topic {} has a negative total", k));
  }
  sweep_stats s;
  s.tokens = static_cast<std::uint64_t>(part.values[tokens_field]);
  s.moved = static_cast<std::uint64_t>(part.values[moved_field]);
  s.proposals = static_cast<std::uint64_t>(part.values[proposals_field]);
  s.accepted = static_cast<std::uint64_t>(part.values[accepted_field]);
  add(stats_, s);
  auto& t = tally_[w];
  t.tokens += s.tokens;
  t.compute_s += part.compute_seconds;
  if (t.left == 0)
    t.doc_log_likelihood = part.values[doc_log_likelihood_field];
}

ordered_json planner::commit(std::uint64_t round,
                             const std::vector<round_result>& parts) {
  auto it = std::find_if(flight_.begin(), flight_.end(),
                         [&](const sent_task& s) { return s.round == round; });
  if (it == flight_.end() || parts.size() != 1)
    throw std::invalid_argument(
        fmt::format("lda: round {} is not in flight", round));
  auto sent = *it;
  flight_.erase(it);
  take_part(sent.block, sent.worker, parts[0]);
  holder_[sent.block] = every_worker;
  tally_[sent.worker].busy = false;
  bool over = flight_.empty() &&
              std::all_of(tally_.begin(), tally_.end(),
                          [](const worker_tally& t) { return t.left == 0; });
  return over ? end_iteration() : ordered_json();
}

ordered_json planner::end_iteration() {
  iteration_open_ = false;
  ++iterations_done_;
  add(total_stats_, stats_);
  if (stats_.tokens != training_tokens_)
    throw std::logic_error(
        fmt::format("lda: iteration {} sampled {} tokens of {}",
                    iterations_done_, stats_.tokens, training_tokens_));
  auto wall = seconds_since(iteration_start_);
  sampling_s_ += wall;
  double ll = log_likelihood(totals_, model_);
  double lg_beta = std::lgamma(model_.beta);
  for (const auto& rows : sparse_)
    for (auto n : rows.counts)
      ll += std::lgamma(static_cast<double>(n) + model_.beta) - lg_beta;
  word_log_likelihood_per_token_ = ll / static_cast<double>(training_tokens_);
  std::vector<double> per_worker, compute, blocked;
  for (const auto& t : tally_) {
    ll += t.doc_log_likelihood;
    per_worker.push_back(t.compute_s > 0 ? t.tokens / t.compute_s : 0.0);
    compute.push_back(t.compute_s);
    blocked.push_back(std::max(0.0, wall - t.compute_s));
  }
  log_likelihood_per_token_ = ll / static_cast<double>(training_tokens_);
  ordered_json record = {
      {"iteration", iterations_done_},
      {"log_likelihood", ll},
      {"log_likelihood_per_token", log_likelihood_per_token_},
      {"word_log_likelihood_per_token", word_log_likelihood_per_token_}};
  if (!split_.heldout.empty()) {
    auto score = heldout_log_likelihood(
        corpus_, split_.heldout, blocks(), block_of_word_, totals_, model_,
        settings_.heldout_sweeps, settings_.seed + iterations_done_);
    heldout_per_token_ =
        score.tokens > 0
            ? score.log_likelihood / static_cast<double>(score.tokens)
            : 0.0;
    record["heldout_log_likelihood_per_token"] = *heldout_per_token_;
  }
  record["tokens"] = stats_.tokens;
  record["moved"] = stats_.moved;
  if (stats_.proposals > 0)
    record["acceptance"] =
        static_cast<double>(stats_.accepted) / stats_.proposals;
  record["iteration_s"] = wall;
  record["tokens_per_s"] = stats_.tokens / wall;
  record["worker_tokens_per_s"] = per_worker;
  record["compute_s"] = compute;
  record["blocked_s"] = blocked;
  record["block_waits"] = block_waits_;
  return record;
}

ordered_json planner::summary() const {
  ordered_json s = {
      {"algorithm", "lda"},
      {"parallel", settings_.parallel},
      {"sampler", sampler_names()[static_cast<std::size_t>(settings_.sampler)]},
      {"topics", model_.topics},
      {"blocks", sparse_.size()},
      {"iterations", iterations_done_},
      {"tokens", total_stats_.tokens},
      {"log_likelihood_per_token", log_likelihood_per_token_},
      {"word_log_likelihood_per_token", word_log_likelihood_per_token_}};
  if (heldout_per_token_)
    s["heldout_log_likelihood_per_token"] = *heldout_per_token_;
  s["tokens_per_s"] = sampling_s_ > 0 ? total_stats_.tokens / sampling_s_ : 0;
  return s;
}

std::string planner::result_text() const {
  std::vector<std::uint32_t> words(corpus_.vocabulary.size());
  std::iota(words.begin(), words.end(), 0u);
  word_topic_rows rows(words, model_.topics);
  for (const auto& block : blocks())
    for (std::size_t i = 0; i < block.words().size(); ++i)
      std::copy(block.row(i), block.row(i) + model_.topics,
                rows.row(block.words()[i]));
  return topics_text(corpus_.vocabulary, rows, totals_, model_);
}

// --- worker -----------------------------------------------------------------

worker::worker(const corpus& c, const program_settings& s, std::size_t rank,
               std::size_t workers)
    : model_(model_of(c, s))
    , blocks_(block_count(s, workers))
    , block_of_word_(vocabulary_blocks(word_token_counts(c), blocks_))
    , shard_(c, split_documents(c, s.heldout, workers, s.seed).workers.at(rank),
             block_of_word_, blocks_, model_, shard_seed(s.seed, rank))
    , sampler_(make_sampler(s.sampler, model_, s.mh_steps,
                            sampler_seed(s.seed, rank)))
    , rows_(empty_blocks(block_of_word_, blocks_, model_.topics)) {}

round_result worker::work(const round_task& task) {
  if (task.task != sample_task || task.values.size() != 3 ||
      !(task.values[0] >= 0 && task.values[0] < rows_.size()) ||
      task.changes.size() != model_.topics)
    throw std::invalid_argument(fmt::format(
        "lda: a task ({} values, {} totals) that does not fit {} blocks of {} "
        "topics",
        task.values.size(), task.changes.size(), rows_.size(), model_.topics));
  auto block = static_cast<std::size_t>(task.values[0]);
  auto& rows = rows_[block]; // all zero between tasks
  rows.set(task.count_keys, task.counts);
  std::vector<std::int64_t> totals(task.changes.begin(), task.changes.end());
  auto before = totals;
  auto stats = sampler_->sweep(shard_, block, rows, totals);
  // Only the entries handed out and those of this worker's tokens can be
  // non-zero now: reading and clearing them costs the work, not the block.
  auto candidates = task.count_keys; // sorted, as the planner sends them
  shard_.token_keys(block, candidates);
  std::inplace_merge(candidates.begin(),
                     candidates.begin() +
                         static_cast<std::ptrdiff_t>(task.count_keys.size()),
                     candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()),
                   candidates.end());
  round_result r;
  r.values = {
      static_cast<double>(stats.tokens), static_cast<double>(stats.moved),
      static_cast<double>(stats.proposals), static_cast<double>(stats.accepted),
      task.values[2] != 0 ? shard_.log_likelihood() : std::nan("")};
  for (std::size_t k = 0; k < totals.size(); ++k)
    r.values.push_back(static_cast<double>(totals[k] - before[k]));
  rows.take(candidates, r.count_keys, r.counts);
  return r;
}

} // namespace metronome::algorithms::lda
