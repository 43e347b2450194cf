#include "algorithms/program.hpp"

#include <algorithm>

namespace metronome::algorithms {

const std::vector<program_info>& programs() {
  static const std::vector<program_info> all = {
      {"softmax", pacing::clocked, "softmax regression by SGD"},
      {"mlp", pacing::clocked, "a one-hidden-layer perceptron by SGD"},
      {"logreg", pacing::clocked, "binary logistic regression by SGD"},
      {"lasso", pacing::scheduled,
       "Lasso by scheduled coordinate descent (STRADS)"},
      {"lda", pacing::scheduled,
       "LDA topics by Gibbs sampling over rotated vocabulary blocks, or "
       "on server tables (parallel: data)"},
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
