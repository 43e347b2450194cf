#include "launcher/experiment/command.hpp"

#include "launcher/cli_checks.hpp"
#include "launcher/config.hpp"
#include "launcher/experiment/runner.hpp"
#include "launcher/experiment/summary.hpp"

#include <fmt/format.h>

namespace metronome::launcher::experiment {

CLI::App* add_command(CLI::App& app, command_options& options) {
  auto* cmd = app.add_subcommand(
      "experiment", "Run a job across consistency models, seeds and knobs "
                    "(an experiment file), then summarise and plot it");
  cmd->add_option("file", options.file, "Experiment YAML file")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--parallel", options.parallel,
                  "Trials run at once (default 1)")
      ->check(count_in(1, 64));
  cmd->add_flag("--force", options.force,
                "Rerun trials that are complete already");
  cmd->add_flag("--summary-only", options.summary_only,
                "Run no trial; summarise the complete ones on disk");
  return cmd;
}

int run_command(const command_options& options, const std::string& binary) {
  auto fingerprint = binary_fingerprint();
  experiment_spec spec;
  try {
    spec = load_experiment(options.file, fingerprint);
  } catch (const config_error& e) {
    for (const auto& p : e.problems())
      fmt::print(stderr, "{}\n", p);
    fmt::print(stderr, "{} problem{} in {}; no trial was started\n",
               e.problems().size(), e.problems().size() == 1 ? "" : "s",
               options.file);
    return 2;
  }
  runner_outcome outcome;
  if (!options.summary_only)
    outcome = run_trials(spec, {binary, options.parallel, options.force});
  std::vector<trial_result> results;
  for (const auto& t : spec.trials)
    results.push_back(read_trial(spec, t));
  try {
    auto table = write_summary(spec, results, this_run(binary, fingerprint));
    fmt::print("{}", table);
  } catch (const std::exception& e) {
    fmt::print(stderr, "experiment: {}\n", e.what());
    return 1;
  }
  fmt::print(stderr, "results in {} (index.html, summary.csv, trials.csv)\n",
             spec.output.string());
  if (outcome.interrupted) {
    fmt::print(stderr, "interrupted: rerun the same command to resume\n");
    return 130;
  }
  std::size_t missing = 0;
  for (const auto& r : results)
    missing += !r.complete;
  if (missing > 0) {
    fmt::print(stderr, "{} of {} trials are not complete\n", missing,
               results.size());
    return 1;
  }
  return 0;
}

} // namespace metronome::launcher::experiment
