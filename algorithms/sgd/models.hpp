#pragma once

#include "algorithms/data/dataset.hpp"
#include "algorithms/program.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace metronome::algorithms {

/// A differentiable model whose parameters are one flat float vector.
///
/// Implementations are stateless and thread-safe: the parameters and the
/// data are passed to every call.
class model {
public:
  virtual ~model() = default;

  /// Short name used in configs: "softmax", "mlp" or "logreg".
  virtual std::string name() const = 0;

  virtual std::size_t num_parameters() const = 0;

  /// The parameter vector split into its blocks, in order, covering it
  /// whole; their names are block_names(name()).
  virtual std::vector<parameter_block> blocks() const = 0;

  /// Writes a deterministic random initialisation for `seed` into `w`.
  virtual void initialize(float* w, std::uint64_t seed) const = 0;

  /// Writes the mean gradient of the loss over the samples `batch` of `d`
  /// into `grad` (num_parameters() floats) and returns their mean loss.
  virtual double loss_and_gradient(const float* w, const dataset& d,
                                   const std::vector<std::size_t>& batch,
                                   float* grad) const = 0;

  /// Mean loss and classification accuracy over all samples of `d`,
  /// computed on all cores; the result is the same for any thread count.
  virtual evaluation evaluate(const float* w, const dataset& d) const = 0;
};

/// Multinomial logistic regression on dense features, cross-entropy loss.
std::unique_ptr<model> make_softmax_regression(std::size_t num_features,
                                               int num_classes);

/// One hidden ReLU layer and a softmax output, cross-entropy loss.
std::unique_ptr<model> make_mlp(std::size_t num_features, std::size_t hidden,
                                int num_classes);

/// Binary logistic regression on sparse (or dense) features, log loss.
std::unique_ptr<model> make_logistic_regression(std::size_t num_features);

/// Names of the parameter blocks of the model called `algorithm` ("mlp":
/// hidden, output; "softmax" and "logreg": weights, bias); empty for an
/// unknown name.
std::vector<std::string> block_names(const std::string& algorithm);

/// The most parameters a model may have: 2^27, 512 MiB as float32, so that
/// a message carrying all of them fits the transport's 1 GiB message limit
/// (messages/transport.hpp) with room to spare.
constexpr std::uint64_t model_max_parameters = std::uint64_t{1} << 27;

/// How many parameters the model called `name` has on `features` inputs,
/// `classes` classes and `hidden` units (mlp only), saturating at 2^64 - 1;
/// 0 for an unknown name.
std::uint64_t parameter_count(const std::string& name, std::uint64_t features,
                              std::uint64_t classes, std::uint64_t hidden);

/// Creates the model named `name` ("softmax", "mlp", "logreg") for `d`;
/// throws std::invalid_argument for an unknown name and for a model of more
/// than model_max_parameters parameters, before allocating anything.
std::unique_ptr<model> make_model(const std::string& name, const dataset& d,
                                  std::size_t hidden = 128);

/// Largest relative difference between the analytic gradient and central
/// finite differences (step `eps`, in double precision on float parameters)
/// over `probes` parameter indices chosen with `seed`.
/// The difference at index i is |a_i - n_i| / max(|a_i| + |n_i|, m / 10),
/// where m is the largest |a_j| of the whole analytic gradient: entries much
/// smaller than the largest are judged on its scale, as float round-off in
/// the loss would otherwise dominate them. All indices when `probes` >=
/// num_parameters(); infinity if a difference is not finite.
double gradient_check(const model& m, const float* w, const dataset& d,
                      const std::vector<std::size_t>& batch, double eps,
                      std::size_t probes, std::uint64_t seed);

} // namespace metronome::algorithms
