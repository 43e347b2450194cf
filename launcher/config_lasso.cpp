#include "launcher/config_lasso.hpp"

#include "algorithms/schedule/schedule.hpp"

namespace metronome::launcher::detail {

void read_lasso(reader& r, const YAML::Node& job, actors::topology& topo) {
  auto& spec = topo.job.lasso;
  auto node = job["lasso"];
  auto at = reader::key_mark(job, "lasso");
  if (!node || node.IsNull()) {
    r.problem(job.IsMap() ? at : job.Mark(),
              "algorithm lasso needs 'lasso' with at least 'alpha'",
              "e.g. lasso: {alpha: 0.1}");
    return;
  }
  if (!r.check_keys(node, "job.lasso",
                    {"alpha", "tol", "schedule", "schedule_size", "rho", "eta",
                     "exponent", "pipeline", "gap_every", "max_rounds",
                     "fit_intercept"},
                    at))
    return;
  auto& solver = spec.solver;
  auto& schedule = spec.schedule;
  if (!node["alpha"])
    r.problem(at, "job.lasso needs 'alpha', the weight of the l1 penalty",
              "e.g. alpha: 0.1 (scikit-learn's Lasso alpha)");
  const double huge = 1e300;
  r.real(node, "alpha", solver.alpha, 0, false, huge, "0.1");
  r.real(node, "tol", solver.tol, 0, true, 1, "1e-4");
  r.choice(node, "schedule", schedule.kind, algorithms::schedule_kinds(),
           "schedule");
  r.whole(node, "schedule_size", schedule.schedule_size, 1, 1000000, "32");
  r.real(node, "rho", schedule.rho, 0, false, huge, "0.1");
  r.real(node, "eta", schedule.eta, 0, true, huge, "0.01");
  r.real(node, "exponent", schedule.exponent, 0, false, 16, "1");
  r.whole(node, "pipeline", spec.pipeline, 0, 64, "2");
  r.whole(node, "gap_every", solver.gap_every, 0, 1000000000, "10");
  r.whole(node, "max_rounds", solver.max_rounds, 1, 1000000000000ull, "100000");
  r.flag(node, "fit_intercept", solver.fit_intercept);
  for (const char* key : {"rho", "eta", "exponent"})
    if (node[key] && schedule.kind != "priority")
      r.problem(reader::key_mark(node, key),
                std::string("'") + key + "' applies only to schedule priority",
                "set 'schedule: priority' or remove it");
  schedule.seed = topo.job.seed;
}

} // namespace metronome::launcher::detail
