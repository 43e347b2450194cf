#include "algorithms/sgd/models.hpp"
#include "algorithms/random.hpp"

#include <fmt/format.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <utility>

namespace metronome::algorithms {

namespace {

using sparse_matrix = Eigen::SparseMatrix<float, Eigen::ColMajor, std::int64_t>;
using dense_ref = Eigen::Ref<const Eigen::MatrixXf>;
using matrix_map = Eigen::Map<Eigen::MatrixXf>;
using const_matrix_map = Eigen::Map<const Eigen::MatrixXf>;
using vector_map = Eigen::Map<Eigen::VectorXf>;
using const_vector_map = Eigen::Map<const Eigen::VectorXf>;

constexpr std::size_t eval_chunk = 1000;

/// Fills `w` with N(0, stddev^2) samples by the Box-Muller transform.
void fill_normal(float* w, std::size_t n, double stddev, std::mt19937_64& gen) {
  constexpr double two_pi = 6.283185307179586476925286766559;
  for (std::size_t i = 0; i < n; i += 2) {
    double r = std::sqrt(-2.0 * std::log(uniform_open(gen)));
    double theta = two_pi * uniform_open(gen);
    w[i] = static_cast<float>(stddev * r * std::cos(theta));
    if (i + 1 < n)
      w[i + 1] = static_cast<float>(stddev * r * std::sin(theta));
  }
}

Eigen::Index idx(std::size_t i) {
  return static_cast<Eigen::Index>(i);
}

void check_data(const dataset& d, std::size_t features, const char* model) {
  std::size_t n = d.num_samples();
  if (n == 0)
    return;
  auto rows = static_cast<std::size_t>(d.is_sparse() ? d.sparse.rows()
                                                     : d.dense.rows());
  auto cols = static_cast<std::size_t>(d.is_sparse() ? d.sparse.cols()
                                                     : d.dense.cols());
  if (rows != features)
    throw std::invalid_argument(
        fmt::format("{}: data set has {} features, the model expects {}", model,
                    rows, features));
  if (cols != n)
    throw std::invalid_argument(fmt::format(
        "{}: data set has {} samples but {} labels", model, cols, n));
}

int label_at(const dataset& d, std::size_t i, int classes) {
  float v = d.labels[i];
  if (!(v >= 0.0f && v < static_cast<float>(classes)) || v != std::floor(v))
    throw std::invalid_argument(fmt::format(
        "sample {}: label {} is not a class index below {}", i, v, classes));
  return static_cast<int>(v);
}

/// Gathers the batch (or the range [begin, end) when `batch` is null) as a
/// dense or sparse matrix and passes it to `f` with the labels.
template <class F>
double with_samples(const dataset& d, int classes,
                    const std::vector<std::size_t>* batch, std::size_t begin,
                    std::size_t end, F&& f) {
  std::size_t m = batch ? batch->size() : end - begin;
  std::vector<int> y(m);
  for (std::size_t j = 0; j < m; ++j)
    y[j] = label_at(d, batch ? (*batch)[j] : begin + j, classes);
  if (d.is_sparse()) {
    if (!batch) {
      sparse_matrix x = d.sparse.middleCols(idx(begin), idx(m));
      return f(x, y.data());
    }
    sparse_matrix x(d.sparse.rows(), idx(m));
    std::int64_t nnz = 0;
    for (std::size_t i : *batch)
      nnz += d.sparse.outerIndexPtr()[i + 1] - d.sparse.outerIndexPtr()[i];
    x.reserve(nnz);
    for (std::size_t j = 0; j < m; ++j) {
      x.startVec(idx(j));
      for (sparse_matrix::InnerIterator it(d.sparse, idx((*batch)[j])); it;
           ++it)
        x.insertBack(it.row(), idx(j)) = it.value();
    }
    x.finalize();
    return f(x, y.data());
  }
  if (!batch)
    return f(dense_ref(d.dense.middleCols(idx(begin), idx(m))), y.data());
  Eigen::MatrixXf x(d.dense.rows(), idx(m));
  for (std::size_t j = 0; j < m; ++j)
    x.col(idx(j)) = d.dense.col(idx((*batch)[j]));
  return f(dense_ref(x), y.data());
}

template <class F>
double batch_loss(const dataset& d, std::size_t features, int classes,
                  const char* model, const std::vector<std::size_t>& batch,
                  F&& f) {
  check_data(d, features, model);
  if (batch.empty())
    throw std::invalid_argument(fmt::format("{}: empty batch", model));
  for (std::size_t i : batch)
    if (i >= d.num_samples())
      throw std::out_of_range(
          fmt::format("{}: sample {} out of range for a data set of {}", model,
                      i, d.num_samples()));
  float scale = 1.0f / static_cast<float>(batch.size());
  double sum =
      with_samples(d, classes, &batch, 0, 0,
                   [&](const auto& x, const int* y) { return f(x, y, scale); });
  return sum / static_cast<double>(batch.size());
}

// Chunks run in parallel; their losses are added in chunk order, so the
// result does not depend on the number of threads, and the first chunk's
// error is the one reported.
template <class F>
evaluation evaluate_chunks(const dataset& d, std::size_t features, int classes,
                           const char* model, F&& f) {
  check_data(d, features, model);
  std::size_t n = d.num_samples();
  if (n == 0)
    return {};
  std::size_t chunks = (n + eval_chunk - 1) / eval_chunk;
  std::vector<double> losses(chunks, 0.0);
  std::vector<std::size_t> corrects(chunks, 0);
  std::vector<std::exception_ptr> errors(chunks);
  auto run_chunk = [&](std::size_t c) {
    std::size_t begin = c * eval_chunk;
    std::size_t end = std::min(n, begin + eval_chunk);
    try {
      losses[c] = with_samples(
          d, classes, nullptr, begin, end,
          [&](const auto& x, const int* y) { return f(x, y, corrects[c]); });
    } catch (...) {
      errors[c] = std::current_exception();
    }
  };
#if defined(__SANITIZE_THREAD__)
  // oneTBB is not built with ThreadSanitizer, which cannot follow the
  // hand-offs of its parallel_for (tools/tsan.supp): there, chunks run in
  // order on this thread.
  for (std::size_t c = 0; c < chunks; ++c)
    run_chunk(c);
#else
  tbb::parallel_for(std::size_t{0}, chunks, run_chunk);
#endif
  for (const auto& error : errors)
    if (error)
      std::rethrow_exception(error);
  double loss = 0;
  std::size_t correct = 0;
  for (std::size_t c = 0; c < chunks; ++c) {
    loss += losses[c];
    correct += corrects[c];
  }
  evaluation e;
  e.loss = loss / static_cast<double>(n);
  e.accuracy = static_cast<double>(correct) / static_cast<double>(n);
  return e;
}

/// Replaces the logits `z` (classes x samples) by `scale` * (softmax - one
/// hot) when `grad` is set; returns the summed cross-entropy and counts the
/// correct arg-max predictions into `correct`.
double softmax_cross_entropy(Eigen::MatrixXf& z, const int* y, bool grad,
                             float scale, std::size_t& correct) {
  double loss = 0;
  Eigen::Index c = z.rows();
  for (Eigen::Index j = 0; j < z.cols(); ++j) {
    float* col = z.col(j).data();
    Eigen::Index best = 0;
    for (Eigen::Index i = 1; i < c; ++i)
      if (col[i] > col[best])
        best = i;
    double top = col[best];
    double s = 0;
    for (Eigen::Index i = 0; i < c; ++i)
      s += std::exp(static_cast<double>(col[i]) - top);
    double lse = top + std::log(s);
    loss += lse - static_cast<double>(col[y[j]]);
    if (best == y[j])
      ++correct;
    if (grad) {
      for (Eigen::Index i = 0; i < c; ++i) {
        double p = std::exp(static_cast<double>(col[i]) - lse);
        if (i == y[j])
          p -= 1.0;
        col[i] = static_cast<float>(p * scale);
      }
    }
  }
  return loss;
}

/// log(1 + exp(t)) without overflow.
double softplus(double t) {
  return std::max(t, 0.0) + std::log1p(std::exp(-std::abs(t)));
}

double sigmoid(double t) {
  if (t >= 0)
    return 1.0 / (1.0 + std::exp(-t));
  double e = std::exp(t);
  return e / (1.0 + e);
}

// Supplies loss_and_gradient and evaluate for a model whose forward()
// computes the loss, and optionally the gradient, of one block of samples.
template <class Derived>
class batch_model : public model {
public:
  double loss_and_gradient(const float* w, const dataset& d,
                           const std::vector<std::size_t>& batch,
                           float* grad) const override {
    return batch_loss(d, features_, classes_, tag_, batch,
                      [&](const auto& x, const int* y, float scale) {
                        std::size_t correct = 0;
                        return derived().forward(w, x, y, grad, scale, correct);
                      });
  }

  evaluation evaluate(const float* w, const dataset& d) const override {
    return evaluate_chunks(
        d, features_, classes_, tag_,
        [&](const auto& x, const int* y, std::size_t& correct) {
          return derived().forward(w, x, y, nullptr, 1.0f, correct);
        });
  }

protected:
  batch_model(std::size_t features, int classes, const char* tag)
      : features_(features)
      , classes_(classes)
      , tag_(tag) {}

  std::size_t features_;
  int classes_;
  const char* tag_;

private:
  const Derived& derived() const { return static_cast<const Derived&>(*this); }
};

class softmax_regression final : public batch_model<softmax_regression> {
  friend class batch_model<softmax_regression>;

public:
  softmax_regression(std::size_t features, int classes)
      : batch_model(features, classes, "softmax") {
    if (features == 0 || classes < 1)
      throw std::invalid_argument(fmt::format(
          "softmax: invalid shape {} features, {} classes", features, classes));
  }

  std::string name() const override { return "softmax"; }

  std::size_t num_parameters() const override {
    return static_cast<std::size_t>(classes_) * (features_ + 1);
  }

  std::vector<parameter_block> blocks() const override {
    auto nw = static_cast<std::size_t>(classes_) * features_;
    return {{"weights", 0, nw},
            {"bias", nw, static_cast<std::size_t>(classes_)}};
  }

  void initialize(float* w, std::uint64_t seed) const override {
    std::mt19937_64 gen(splitmix64(seed));
    std::size_t nw = static_cast<std::size_t>(classes_) * features_;
    fill_normal(w, nw, 0.01, gen);
    std::fill(w + nw, w + num_parameters(), 0.0f);
  }

private:
  template <class X>
  double forward(const float* w, const X& x, const int* y, float* grad,
                 float scale, std::size_t& correct) const {
    Eigen::Index c = classes_;
    Eigen::Index f = idx(features_);
    const_matrix_map wm(w, c, f);
    const_vector_map b(w + c * f, c);
    Eigen::MatrixXf z = wm * x;
    z.colwise() += b;
    double loss = softmax_cross_entropy(z, y, grad != nullptr, scale, correct);
    if (grad) {
      matrix_map gw(grad, c, f);
      gw.noalias() = z * x.transpose();
      vector_map(grad + c * f, c) = z.rowwise().sum();
    }
    return loss;
  }
};

class mlp final : public batch_model<mlp> {
  friend class batch_model<mlp>;

public:
  mlp(std::size_t features, std::size_t hidden, int classes)
      : batch_model(features, classes, "mlp")
      , hidden_(hidden) {
    if (features == 0 || hidden == 0 || classes < 1)
      throw std::invalid_argument(
          fmt::format("mlp: invalid shape {} features, {} hidden, {} classes",
                      features, hidden, classes));
  }

  std::string name() const override { return "mlp"; }

  std::size_t num_parameters() const override {
    auto c = static_cast<std::size_t>(classes_);
    return hidden_ * (features_ + 1) + c * (hidden_ + 1);
  }

  std::vector<parameter_block> blocks() const override {
    auto n1 = hidden_ * (features_ + 1);
    return {{"hidden", 0, n1},
            {"output", n1, static_cast<std::size_t>(classes_) * (hidden_ + 1)}};
  }

  void initialize(float* w, std::uint64_t seed) const override {
    std::mt19937_64 gen(splitmix64(seed));
    std::size_t n1 = hidden_ * features_;
    std::size_t n2 = static_cast<std::size_t>(classes_) * hidden_;
    float* w2 = w + n1 + hidden_;
    fill_normal(w, n1, std::sqrt(2.0 / static_cast<double>(features_)), gen);
    std::fill(w + n1, w2, 0.0f);
    fill_normal(w2, n2, std::sqrt(1.0 / static_cast<double>(hidden_)), gen);
    std::fill(w2 + n2, w + num_parameters(), 0.0f);
  }

private:
  template <class X>
  double forward(const float* w, const X& x, const int* y, float* grad,
                 float scale, std::size_t& correct) const {
    Eigen::Index f = idx(features_);
    Eigen::Index h = idx(hidden_);
    Eigen::Index c = classes_;
    const_matrix_map w1(w, h, f);
    const_vector_map b1(w + h * f, h);
    const_matrix_map w2(w + h * f + h, c, h);
    const_vector_map b2(w + h * f + h + c * h, c);
    Eigen::MatrixXf a = w1 * x;
    a.colwise() += b1;
    a = a.cwiseMax(0.0f);
    Eigen::MatrixXf z = w2 * a;
    z.colwise() += b2;
    double loss = softmax_cross_entropy(z, y, grad != nullptr, scale, correct);
    if (grad) {
      matrix_map gw1(grad, h, f);
      vector_map gb1(grad + h * f, h);
      matrix_map gw2(grad + h * f + h, c, h);
      vector_map gb2(grad + h * f + h + c * h, c);
      gw2.noalias() = z * a.transpose();
      gb2 = z.rowwise().sum();
      Eigen::MatrixXf da = w2.transpose() * z;
      da.array() *= (a.array() > 0.0f).cast<float>();
      gw1.noalias() = da * x.transpose();
      gb1 = da.rowwise().sum();
    }
    return loss;
  }

  std::size_t hidden_;
};

class logistic_regression final : public batch_model<logistic_regression> {
  friend class batch_model<logistic_regression>;

public:
  explicit logistic_regression(std::size_t features)
      : batch_model(features, 2, "logreg") {
    if (features == 0)
      throw std::invalid_argument("logreg: no features");
  }

  std::string name() const override { return "logreg"; }

  std::size_t num_parameters() const override { return features_ + 1; }

  std::vector<parameter_block> blocks() const override {
    return {{"weights", 0, features_}, {"bias", features_, 1}};
  }

  void initialize(float* w, std::uint64_t seed) const override {
    std::mt19937_64 gen(splitmix64(seed));
    fill_normal(w, features_, 0.01, gen);
    w[features_] = 0.0f;
  }

private:
  template <class X>
  double forward(const float* w, const X& x, const int* y, float* grad,
                 float scale, std::size_t& correct) const {
    Eigen::Index f = idx(features_);
    const_vector_map wv(w, f);
    Eigen::RowVectorXf z = wv.transpose() * x;
    z.array() += w[features_];
    double loss = 0;
    for (Eigen::Index j = 0; j < z.size(); ++j) {
      double t = z[j];
      loss += softplus(y[j] == 1 ? -t : t);
      if ((t > 0) == (y[j] == 1))
        ++correct;
      z[j] = static_cast<float>((sigmoid(t) - y[j]) * scale);
    }
    if (grad) {
      vector_map gw(grad, f);
      gw.noalias() = x * z.transpose();
      grad[features_] = z.sum();
    }
    return loss;
  }
};

} // namespace

std::unique_ptr<model> make_softmax_regression(std::size_t num_features,
                                               int num_classes) {
  return std::make_unique<softmax_regression>(num_features, num_classes);
}

std::unique_ptr<model> make_mlp(std::size_t num_features, std::size_t hidden,
                                int num_classes) {
  return std::make_unique<mlp>(num_features, hidden, num_classes);
}

std::unique_ptr<model> make_logistic_regression(std::size_t num_features) {
  return std::make_unique<logistic_regression>(num_features);
}

std::vector<std::string> block_names(const std::string& algorithm) {
  if (algorithm == "mlp")
    return {"hidden", "output"};
  if (algorithm == "softmax" || algorithm == "logreg")
    return {"weights", "bias"};
  return {};
}

std::uint64_t parameter_count(const std::string& name, std::uint64_t features,
                              std::uint64_t classes, std::uint64_t hidden) {
  constexpr auto most = std::numeric_limits<std::uint64_t>::max();
  auto times = [](std::uint64_t a, std::uint64_t b) {
    return b != 0 && a > most / b ? most : a * b;
  };
  auto plus = [](std::uint64_t a, std::uint64_t b) {
    return a > most - b ? most : a + b;
  };
  if (name == "softmax")
    return times(classes, plus(features, 1));
  if (name == "mlp")
    return plus(times(hidden, plus(features, 1)),
                times(classes, plus(hidden, 1)));
  if (name == "logreg")
    return plus(features, 1);
  return 0;
}

std::unique_ptr<model> make_model(const std::string& name, const dataset& d,
                                  std::size_t hidden) {
  auto count = parameter_count(
      name, d.num_features, static_cast<std::uint64_t>(d.num_classes), hidden);
  if (count > model_max_parameters)
    throw std::invalid_argument(fmt::format(
        "{}: {} parameters ({} features, {} classes{}) exceed the limit of "
        "2^27 = {}",
        name, count, d.num_features, d.num_classes,
        name == "mlp" ? fmt::format(", hidden {}", hidden) : std::string(),
        model_max_parameters));
  if (name == "softmax")
    return make_softmax_regression(d.num_features, d.num_classes);
  if (name == "mlp")
    return make_mlp(d.num_features, hidden, d.num_classes);
  if (name == "logreg") {
    if (d.num_classes > 2)
      throw std::invalid_argument(
          fmt::format("logreg: binary model, but the data set has {} classes",
                      d.num_classes));
    return make_logistic_regression(d.num_features);
  }
  throw std::invalid_argument(fmt::format(
      "unknown model '{}' (valid models: softmax, mlp, logreg)", name));
}

double gradient_check(const model& m, const float* w, const dataset& d,
                      const std::vector<std::size_t>& batch, double eps,
                      std::size_t probes, std::uint64_t seed) {
  std::size_t p = m.num_parameters();
  std::vector<float> analytic(p);
  m.loss_and_gradient(w, d, batch, analytic.data());
  double largest = 0;
  for (float a : analytic)
    largest = std::max(largest, static_cast<double>(std::abs(a)));
  double floor = std::max(0.1 * largest, 1e-12);

  std::vector<std::size_t> index(p);
  std::iota(index.begin(), index.end(), std::size_t{0});
  if (probes < p) {
    std::mt19937_64 gen(splitmix64(seed));
    for (std::size_t i = 0; i < probes; ++i)
      std::swap(index[i], index[i + uniform_below(gen, p - i)]);
    index.resize(probes);
  }

  std::vector<float> work(w, w + p);
  std::vector<float> scratch(p);
  double worst = 0;
  for (std::size_t i : index) {
    float original = work[i];
    float up = static_cast<float>(original + eps);
    float down = static_cast<float>(original - eps);
    if (!(up > down))
      throw std::invalid_argument(
          fmt::format("gradient_check: step {} vanishes at parameter {} = {}",
                      eps, i, original));
    work[i] = up;
    double loss_up = m.loss_and_gradient(work.data(), d, batch, scratch.data());
    work[i] = down;
    double loss_down =
        m.loss_and_gradient(work.data(), d, batch, scratch.data());
    work[i] = original;
    double numeric = (loss_up - loss_down) /
                     (static_cast<double>(up) - static_cast<double>(down));
    double a = analytic[i];
    double scale = std::max(std::abs(a) + std::abs(numeric), floor);
    double rel = std::abs(a - numeric) / scale;
    if (!std::isfinite(rel))
      return std::numeric_limits<double>::infinity();
    worst = std::max(worst, rel);
  }
  return worst;
}

} // namespace metronome::algorithms
