#include "launcher/predictor_train.hpp"

#include "algorithms/cutoff/dmm.hpp"
#include "algorithms/data/dataset.hpp"
#include "algorithms/stragglers/stragglers.hpp"

#include "actors/core/job_records.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>

namespace metronome::launcher {

namespace {

bool all_uncensored(const std::vector<algorithms::runtime_observation>& obs) {
  return std::all_of(obs.begin(), obs.end(), [](const auto& o) {
    return std::none_of(o.censored.begin(), o.censored.end(),
                        [](std::uint8_t c) { return c != 0; });
  });
}

} // namespace

int run_predictor_train(const predictor_train_options& options) {
  std::vector<algorithms::runtime_observation> all;
  try {
    all = algorithms::observations_from_trace(
        algorithms::read_trace(options.trace));
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}\n", e.what());
    return 2;
  }
  auto held = static_cast<std::size_t>(static_cast<double>(all.size()) *
                                       options.holdout);
  if (all.size() < options.lag + 2 ||
      (held > 0 && all.size() - held < options.lag + 2)) {
    fmt::print(stderr,
               "{}: {} iterations are too few to train with a lag of {} "
               "(hold-out {:.0f}%); record a longer run\n",
               options.trace, all.size(), options.lag, options.holdout * 100);
    return 2;
  }
  std::vector<algorithms::runtime_observation> train(all.begin(),
                                                     all.end() - held);
  std::vector<algorithms::runtime_observation> test(all.end() - held,
                                                    all.end());
  algorithms::dmm_spec spec;
  spec.latent = options.latent;
  spec.lag = options.lag;
  algorithms::dmm_train_options train_options;
  train_options.epochs = options.epochs;
  train_options.seed = options.seed;
  bool tty = isatty(fileno(stderr)) != 0;
  train_options.progress = [tty](const algorithms::dmm_progress& p) {
    fmt::print(stderr, "{}epoch {}/{}  elbo {:.4f}  kl_weight {:.2f}{}",
               tty ? "\r" : "", p.epoch, p.epochs, p.elbo, p.kl_weight,
               tty && p.epoch < p.epochs ? "" : "\n");
  };
  fmt::print(stderr, "training on {} iterations of {} ({} held out)\n",
             train.size(), options.trace, held);
  auto start = std::chrono::steady_clock::now();
  std::optional<algorithms::dmm> fitted;
  try {
    fitted = algorithms::fit_dmm(train, spec, train_options);
    algorithms::save_dmm(*fitted, options.out);
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}\n", e.what());
    return 2;
  }
  const auto& model = *fitted;
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  // Without a held-out fit both log-likelihoods are null.
  actors::json fit = nullptr;
  actors::json iid = nullptr;
  if (held > model.spec().lag && all_uncensored(test)) {
    // The windows of the first held-out targets reach into the training
    // part; the i.i.d. fit is scored on the same targets.
    std::vector<algorithms::runtime_observation> scored(
        all.end() - held - model.spec().lag, all.end());
    fit = algorithms::dmm_predictive_log_likelihood(model, scored, 64,
                                                    options.seed);
    iid = algorithms::iid_gaussian_log_likelihood(train, scored,
                                                  model.spec().lag);
  } else if (held > 0) {
    fmt::print(stderr, "the held-out part is censored or too short: no "
                       "held-out log-likelihood\n");
  }
  actors::json record = {
      {"model", options.out},       {"workers", model.workers()},
      {"iterations", train.size()}, {"train_s", seconds},
      {"heldout_loglik", fit},      {"heldout_loglik_iid", iid}};
  // A path need not be UTF-8: invalid bytes are replaced, not thrown on.
  fmt::print("{}\n", record.dump(-1, ' ', false,
                                 actors::json::error_handler_t::replace));
  return 0;
}

} // namespace metronome::launcher
