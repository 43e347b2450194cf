// libFuzzer target: the run-time model file (load_dmm of
// algorithms/cutoff/dmm.hpp, written by `predictor train`, read for
// `cutoff.model`), then one prediction from the model it loaded.

#include "algorithms/cutoff/dmm.hpp"
#include "algorithms/data/dataset.hpp"

#include "tests/fuzz/fuzz_support.hpp"

#include <cstdint>
#include <cstdlib>
#include <random>

using namespace metronome;
using algorithms::load_error;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string path = fuzz::write_file("model.dmm", data, size);
  try {
    auto m = algorithms::load_dmm(path);
    // One prediction, as the predictor makes it, from a short window with
    // a censored entry.
    std::size_t n = m.workers();
    algorithms::runtime_observation o;
    o.seconds.assign(n, 0.25);
    o.censored.assign(n, 0);
    o.censored[0] = 1;
    std::mt19937_64 gen(1);
    algorithms::imputation_options options;
    options.copies = 2;
    auto samples = m.sample_next({o, o}, 2, gen, options);
    if (samples.rows() != 2 || samples.cols() != static_cast<Eigen::Index>(n))
      std::abort();
  } catch (const load_error& e) {
    fuzz::expect_names(e.what(), path);
  }
  return 0;
}
