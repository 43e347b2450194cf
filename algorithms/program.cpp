#include "algorithms/program.hpp"

#include <algorithm>

namespace metronome::algorithms {

const std::vector<program_info>& programs() {
  const std::vector<std::string> sgd = {"loss", "test_loss", "test_accuracy"};
  static const std::vector<program_info> all = {
      {"softmax", pacing::clocked, "softmax regression by SGD", sgd},
      {"mlp", pacing::clocked, "a one-hidden-layer perceptron by SGD", sgd},
      {"logreg", pacing::clocked, "binary logistic regression by SGD", sgd},
      {"lasso",
       pacing::scheduled,
       "Lasso by scheduled coordinate descent (STRADS)",
       {"objective", "gap", "residual_objective", "nnz"}},
      {"lda",
       pacing::scheduled,
       "LDA topics by Gibbs sampling over rotated vocabulary blocks, or "
       "on server tables (parallel: data)",
       {"word_log_likelihood_per_token", "heldout_log_likelihood_per_token"}},
  };
  return all;
}

const program_info* find_program(const std::string& name) {
  const auto& all = programs();
  auto it = std::find_if(all.begin(), all.end(),
                         [&](const program_info& p) { return p.name == name; });
  return it == all.end() ? nullptr : &*it;
}

std::vector<std::string> program_names() {
  std::vector<std::string> names;
  for (const auto& p : programs())
    names.push_back(p.name);
  return names;
}

} // namespace metronome::algorithms
