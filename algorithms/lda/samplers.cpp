#include "algorithms/lda/lda.hpp"
#include "algorithms/lda/state.hpp"
#include "algorithms/random.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <stdexcept>

namespace metronome::algorithms::lda {

namespace {

// What a sampler sees at one word of a sweep.
struct sweep_context {
  document_shard::state* st = nullptr;
  std::int32_t* row = nullptr; // n_wk of the word
  std::int64_t* totals = nullptr;
};

// The parameters and generator every sampler has.
class sampler_core {
public:
  sampler_core(const hyper& h, std::uint64_t seed)
      : k_(h.topics)
      , alpha_(h.alpha)
      , beta_(h.beta)
      , vbeta_(static_cast<double>(h.vocabulary) * h.beta)
      , gen_(splitmix64(seed)) {}

  sweep_stats stats_;

protected:
  // Takes the token out of every count (its topic k).
  static void remove(const sweep_context& c, token_ref t, std::uint16_t k) {
    c.st->remove(t.doc, k);
    decrement(c.row[k]);
    decrement(c.totals[k]);
  }
  static void add(const sweep_context& c, token_ref t, std::uint16_t k) {
    c.st->add(t.doc, k);
    ++c.row[k];
    ++c.totals[k];
  }
  void record(std::uint16_t before, std::uint16_t after) {
    ++stats_.tokens;
    stats_.moved += before != after;
  }
  std::size_t clamp(double x) const {
    return std::min(static_cast<std::size_t>(x), k_ - 1);
  }

  std::size_t k_;
  double alpha_, beta_, vbeta_;
  xoshiro256ss gen_;
};

void check_sweep(const document_shard::state& st, std::size_t block,
                 const word_topic_rows& rows,
                 const std::vector<std::int64_t>& totals, std::size_t k) {
  if (st.topics != k || rows.topics() != k || totals.size() != k)
    throw std::invalid_argument(
        fmt::format("lda sweep: shard, rows and totals need {} topics", k));
  if (block >= st.blocks.size())
    throw std::invalid_argument(
        fmt::format("lda sweep: block {} of {}", block, st.blocks.size()));
}

std::int32_t* row_of(word_topic_rows& rows, std::uint32_t word) {
  std::size_t i = rows.find(word);
  if (i == rows.words().size())
    throw std::invalid_argument(
        fmt::format("lda sweep: rows lack word {}", word));
  return rows.row(i);
}

template <class S>
sweep_stats run_sweep(S& s, document_shard& shard, std::size_t block,
                      word_topic_rows& rows,
                      std::vector<std::int64_t>& totals) {
  document_shard::state& st = shard.internals();
  check_sweep(st, block, rows, totals, s.topics());
  const block_tokens& b = st.blocks[block];
  s.stats_ = {};
  sweep_context c{&st, nullptr, totals.data()};
  s.begin_sweep(c);
  for (std::size_t j = 0; j < b.words.size(); ++j) {
    c.row = row_of(rows, b.words[j]);
    s.begin_word(c);
    for (std::uint32_t t = b.starts[j]; t < b.starts[j + 1]; ++t)
      s.step(c, b.tokens[t]);
  }
  return s.stats_;
}

// The exact conditional from cumulative weights; g_[k] caches the word
// factor (n_wk + beta) / (n_k + V beta), two entries change per token.
class gibbs_sampler final : public sampler, public sampler_core {
public:
  gibbs_sampler(const hyper& h, std::uint64_t seed)
      : sampler_core(h, seed)
      , g_(k_)
      , cum_(k_) {}

  sweep_stats sweep(document_shard& shard, std::size_t block,
                    word_topic_rows& rows,
                    std::vector<std::int64_t>& totals) override {
    return run_sweep(*this, shard, block, rows, totals);
  }

  std::size_t topics() const { return k_; }
  void begin_sweep(const sweep_context&) {}
  void begin_word(const sweep_context& c) {
    for (std::size_t k = 0; k < k_; ++k)
      refresh(c, k);
  }

  void step(const sweep_context& c, token_ref t) {
    std::uint16_t before = c.st->z[t.token];
    remove(c, t, before);
    refresh(c, before);
    const std::int32_t* nd = c.st->doc_row(t.doc);
    double sum = 0;
    for (std::size_t k = 0; k < k_; ++k) {
      sum += (nd[k] + alpha_) * g_[k];
      cum_[k] = sum;
    }
    double u = uniform_open(gen_) * sum;
    auto after = static_cast<std::uint16_t>(std::min<std::size_t>(
        std::upper_bound(cum_.begin(), cum_.end(), u) - cum_.begin(), k_ - 1));
    add(c, t, after);
    refresh(c, after);
    c.st->z[t.token] = after;
    record(before, after);
  }

private:
  void refresh(const sweep_context& c, std::size_t k) {
    g_[k] = (c.row[k] + beta_) / (static_cast<double>(c.totals[k]) + vbeta_);
  }

  std::vector<double> g_, cum_;
};

// SparseLDA's three buckets, arranged for word-by-word visits:
// (n_dk + a)(n_wk + b)/(n_k + Vb) = a b/(n_k + Vb)       smoothing s
//                                 + n_dk (n_wk + b)/(n_k + Vb)   doc r
//                                 + a n_wk/(n_k + Vb)            word q.
// s and q are kept as running sums (rebuilt at every word), r is summed
// over the document's non-zero topics.
class sparse_sampler final : public sampler, public sampler_core {
public:
  sparse_sampler(const hyper& h, std::uint64_t seed)
      : sampler_core(h, seed)
      , inv_(k_)
      , g_(k_)
      , r_cum_(k_)
      , word_pos_(k_, -1) {
    word_nz_.reserve(k_);
  }

  sweep_stats sweep(document_shard& shard, std::size_t block,
                    word_topic_rows& rows,
                    std::vector<std::int64_t>& totals) override {
    return run_sweep(*this, shard, block, rows, totals);
  }

  std::size_t topics() const { return k_; }
  void begin_sweep(const sweep_context& c) {
    for (std::size_t k = 0; k < k_; ++k)
      inv_[k] = 1.0 / (static_cast<double>(c.totals[k]) + vbeta_);
  }
  void begin_word(const sweep_context& c);
  void step(const sweep_context& c, token_ref t);

private:
  void changed(const sweep_context& c, std::uint16_t k, std::int32_t before);
  std::uint16_t draw(const sweep_context& c, token_ref t);

  std::vector<double> inv_, g_, r_cum_;
  std::vector<std::uint16_t> word_nz_;
  std::vector<std::int32_t> word_pos_;
  double s_sum_ = 0, q_sum_ = 0;
};

void sparse_sampler::begin_word(const sweep_context& c) {
  for (std::uint16_t k : word_nz_)
    word_pos_[k] = -1;
  word_nz_.clear();
  s_sum_ = q_sum_ = 0;
  for (std::size_t k = 0; k < k_; ++k) {
    g_[k] = (c.row[k] + beta_) * inv_[k];
    s_sum_ += inv_[k];
    if (c.row[k] > 0) {
      word_pos_[k] = static_cast<std::int32_t>(word_nz_.size());
      word_nz_.push_back(static_cast<std::uint16_t>(k));
      q_sum_ += c.row[k] * inv_[k];
    }
  }
  s_sum_ *= alpha_ * beta_;
  q_sum_ *= alpha_;
}

// Topic k's counts changed (n_wk was `before`): update the caches.
void sparse_sampler::changed(const sweep_context& c, std::uint16_t k,
                             std::int32_t before) {
  double old_inv = inv_[k];
  double now = 1.0 / (static_cast<double>(c.totals[k]) + vbeta_);
  std::int32_t n = c.row[k];
  inv_[k] = now;
  g_[k] = (n + beta_) * now;
  s_sum_ += alpha_ * beta_ * (now - old_inv);
  q_sum_ += alpha_ * (n * now - before * old_inv);
  if (before == 0 && n > 0) {
    word_pos_[k] = static_cast<std::int32_t>(word_nz_.size());
    word_nz_.push_back(k);
  } else if (before > 0 && n == 0) {
    std::uint16_t last = word_nz_.back();
    word_nz_[word_pos_[k]] = last;
    word_pos_[last] = word_pos_[k];
    word_nz_.pop_back();
    word_pos_[k] = -1;
  }
  if (word_nz_.empty())
    q_sum_ = 0;
}

std::uint16_t sparse_sampler::draw(const sweep_context& c, token_ref t) {
  const std::int32_t* nd = c.st->doc_row(t.doc);
  const std::uint16_t* list = c.st->doc_nonzeros(t.doc);
  std::uint32_t n = c.st->nz_size[t.doc];
  double r = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    r += nd[list[i]] * g_[list[i]];
    r_cum_[i] = r;
  }
  double u = uniform_open(gen_) * (s_sum_ + r + q_sum_);
  if (u < r) {
    auto i = std::upper_bound(r_cum_.begin(), r_cum_.begin() + n, u) -
             r_cum_.begin();
    return list[std::min<std::ptrdiff_t>(i, n - 1)];
  }
  u -= r;
  if (u < q_sum_) {
    u /= alpha_;
    for (std::uint16_t k : word_nz_) {
      u -= c.row[k] * inv_[k];
      if (u < 0)
        return k;
    }
    return word_nz_.back();
  }
  u = (u - q_sum_) / (alpha_ * beta_);
  for (std::size_t k = 0; k + 1 < k_; ++k) {
    u -= inv_[k];
    if (u < 0)
      return static_cast<std::uint16_t>(k);
  }
  return static_cast<std::uint16_t>(k_ - 1);
}

void sparse_sampler::step(const sweep_context& c, token_ref t) {
  std::uint16_t before = c.st->z[t.token];
  remove(c, t, before);
  changed(c, before, c.row[before] + 1);
  std::uint16_t after = draw(c, t);
  add(c, t, after);
  changed(c, after, c.row[after] - 1);
  c.st->z[t.token] = after;
  record(before, after);
}

// Walker's alias method (Vose's construction) over up to K weights.
class alias_table {
public:
  explicit alias_table(std::size_t k)
      : prob_(k)
      , scaled_(k)
      , alias_(k) {
    small_.reserve(k);
    large_.reserve(k);
  }

  /// Over the first `n` of `weights` (all of them when n is 0).
  void build(const std::vector<double>& weights, std::size_t n = 0);

  std::uint16_t draw(xoshiro256ss& gen) const {
    double x = uniform_open(gen) * static_cast<double>(n_);
    std::size_t i = std::min(static_cast<std::size_t>(x), n_ - 1);
    return x - static_cast<double>(i) < prob_[i] ? static_cast<std::uint16_t>(i)
                                                 : alias_[i];
  }

private:
  std::size_t n_ = 1;
  std::vector<double> prob_, scaled_;
  std::vector<std::uint16_t> alias_, small_, large_;
};

void alias_table::build(const std::vector<double>& weights, std::size_t n) {
  std::size_t k = n == 0 ? weights.size() : n;
  n_ = k;
  double sum = 0;
  for (std::size_t i = 0; i < k; ++i)
    sum += weights[i];
  small_.clear();
  large_.clear();
  for (std::size_t i = 0; i < k; ++i) {
    scaled_[i] = weights[i] * static_cast<double>(k) / sum;
    (scaled_[i] < 1 ? small_ : large_).push_back(static_cast<std::uint16_t>(i));
  }
  while (!small_.empty() && !large_.empty()) {
    std::uint16_t s = small_.back(), l = large_.back();
    small_.pop_back();
    large_.pop_back();
    prob_[s] = scaled_[s];
    alias_[s] = l;
    scaled_[l] = (scaled_[l] + scaled_[s]) - 1;
    (scaled_[l] < 1 ? small_ : large_).push_back(l);
  }
  for (std::uint16_t i : small_)
    prob_[i] = 1, alias_[i] = i;
  for (std::uint16_t i : large_)
    prob_[i] = 1, alias_[i] = i;
}

// LightLDA's cycle. The word proposal q_w(k) ~ (n_wk + b)/(n_k + Vb) is a
// mixture, as LightLDA keeps it for rare words: a word part
// n_wk/(n_k + Vb) over the word's non-zero topics, built at the word, and
// a shared part b/(n_k + Vb), built at the sweep; both then go stale, and
// q_w(k) = word_[k] + shared_[k] is what was drawn from. The doc proposal
// is the topic of a random token of the document (the chain's current
// topic stored in its own slot) or a uniform topic, so q_d(t | s) ~
// n_dt^- + [t = s] + a. With pi(k) ~ (n_dk^- + a)(n_wk^- + b)/(n_k^- + Vb),
// the acceptances are pi(t) q_w(s) / (pi(s) q_w(t)) and, as the doc factors
// cancel, f(t)/f(s) with f(k) = (n_wk^- + b)/(n_k^- + Vb).
class light_sampler final : public sampler, public sampler_core {
public:
  light_sampler(const hyper& h, std::size_t steps, std::uint64_t seed)
      : sampler_core(h, seed)
      , steps_(steps)
      , word_(k_, 0.0)
      , shared_(k_)
      , weights_(k_)
      , word_table_(k_)
      , shared_table_(k_)
      , k_alpha_(static_cast<double>(k_) * alpha_) {
    topics_.reserve(k_);
  }

  sweep_stats sweep(document_shard& shard, std::size_t block,
                    word_topic_rows& rows,
                    std::vector<std::int64_t>& totals) override {
    return run_sweep(*this, shard, block, rows, totals);
  }

  std::size_t topics() const { return k_; }
  void begin_sweep(const sweep_context& c) {
    shared_mass_ = 0;
    for (std::size_t k = 0; k < k_; ++k)
      shared_mass_ += shared_[k] =
          beta_ / (static_cast<double>(c.totals[k]) + vbeta_);
    shared_table_.build(shared_);
  }
  void begin_word(const sweep_context& c) {
    for (auto k : topics_)
      word_[k] = 0;
    topics_.clear();
    word_mass_ = 0;
    for (std::size_t k = 0; k < k_; ++k)
      if (c.row[k] != 0) {
        double a = c.row[k] / (static_cast<double>(c.totals[k]) + vbeta_);
        word_[k] = a;
        weights_[topics_.size()] = a;
        topics_.push_back(static_cast<std::uint16_t>(k));
        word_mass_ += a;
      }
    if (!topics_.empty())
      word_table_.build(weights_, topics_.size());
  }
  void step(const sweep_context& c, token_ref t);

private:
  std::uint16_t word_proposal() {
    if (uniform_open(gen_) * (word_mass_ + shared_mass_) < word_mass_)
      return topics_[word_table_.draw(gen_)];
    return shared_table_.draw(gen_);
  }
  std::uint16_t doc_proposal(const sweep_context& c, std::size_t begin,
                             double n);

  std::size_t steps_;
  std::vector<double> word_, shared_, weights_;
  std::vector<std::uint16_t> topics_; // the word's non-zero topics
  alias_table word_table_, shared_table_;
  double word_mass_ = 0, shared_mass_ = 0;
  double k_alpha_;
};

std::uint16_t light_sampler::doc_proposal(const sweep_context& c,
                                          std::size_t begin, double n) {
  double u = uniform_open(gen_) * (n + k_alpha_);
  if (u < n)
    return c.st->z[begin + static_cast<std::size_t>(u)];
  return static_cast<std::uint16_t>(clamp((u - n) / alpha_));
}

void light_sampler::step(const sweep_context& c, token_ref t) {
  document_shard::state& st = *c.st;
  std::uint16_t before = st.z[t.token], s = before;
  remove(c, t, s);
  const std::int32_t* nd = st.doc_row(t.doc);
  const std::int32_t* nw = c.row;
  const std::int64_t* nk = c.totals;
  std::size_t begin = st.offsets[t.doc];
  double n = static_cast<double>(st.offsets[t.doc + 1] - begin);
  for (std::size_t m = 0; m < steps_; ++m) {
    std::uint16_t p = word_proposal();
    if (p != s) {
      double ratio = (nd[p] + alpha_) * (nw[p] + beta_) * (nk[s] + vbeta_) *
                     (word_[s] + shared_[s]) /
                     ((nd[s] + alpha_) * (nw[s] + beta_) * (nk[p] + vbeta_) *
                      (word_[p] + shared_[p]));
      if (uniform_open(gen_) < ratio) {
        s = p;
        ++stats_.accepted;
      }
    } else {
      ++stats_.accepted;
    }
    st.z[t.token] = s;
    p = doc_proposal(c, begin, n);
    if (p != s) {
      double ratio = (nw[p] + beta_) * (nk[s] + vbeta_) /
                     ((nw[s] + beta_) * (nk[p] + vbeta_));
      if (uniform_open(gen_) < ratio) {
        s = p;
        ++stats_.accepted;
      }
    } else {
      ++stats_.accepted;
    }
  }
  stats_.proposals += 2 * steps_;
  add(c, t, s);
  st.z[t.token] = s;
  record(before, s);
}

template <class S>
std::vector<std::uint16_t> repeat(S& s, document_shard& shard,
                                  word_topic_rows& rows,
                                  std::vector<std::int64_t>& totals,
                                  std::size_t token, std::size_t repeats) {
  document_shard::state& st = shard.internals();
  if (token >= st.words.size())
    throw std::invalid_argument("resample_token: no such token");
  check_sweep(st, 0, rows, totals, s.topics());
  auto doc = static_cast<std::uint32_t>(
      std::upper_bound(st.offsets.begin(), st.offsets.end(), token) -
      st.offsets.begin() - 1);
  sweep_context c{&st, row_of(rows, st.words[token]), totals.data()};
  s.begin_sweep(c);
  s.begin_word(c);
  std::vector<std::uint16_t> out;
  out.reserve(repeats);
  for (std::size_t r = 0; r < repeats; ++r) {
    s.step(c, {static_cast<std::uint32_t>(token), doc});
    out.push_back(st.z[token]);
  }
  return out;
}

} // namespace

std::unique_ptr<sampler> make_sampler(sampler_kind kind, const hyper& h,
                                      std::size_t mh_steps,
                                      std::uint64_t seed) {
  check_hyper(h);
  switch (kind) {
  case sampler_kind::gibbs:
    return std::make_unique<gibbs_sampler>(h, seed);
  case sampler_kind::sparse:
    return std::make_unique<sparse_sampler>(h, seed);
  case sampler_kind::lightlda:
    if (mh_steps == 0)
      throw std::invalid_argument("make_sampler: lightlda needs mh_steps >= 1");
    return std::make_unique<light_sampler>(h, mh_steps, seed);
  }
  throw std::invalid_argument("make_sampler: unknown sampler kind");
}

namespace detail {

std::vector<std::uint16_t>
resample_token(sampler_kind kind, const hyper& h, std::size_t mh_steps,
               std::uint64_t seed, document_shard& shard, word_topic_rows& rows,
               std::vector<std::int64_t>& totals, std::size_t token,
               std::size_t repeats) {
  std::unique_ptr<sampler> made = make_sampler(kind, h, mh_steps, seed);
  switch (kind) {
  case sampler_kind::gibbs:
    return repeat(static_cast<gibbs_sampler&>(*made), shard, rows, totals,
                  token, repeats);
  case sampler_kind::sparse:
    return repeat(static_cast<sparse_sampler&>(*made), shard, rows, totals,
                  token, repeats);
  case sampler_kind::lightlda:
    break;
  }
  return repeat(static_cast<light_sampler&>(*made), shard, rows, totals, token,
                repeats);
}

} // namespace detail

} // namespace metronome::algorithms::lda
