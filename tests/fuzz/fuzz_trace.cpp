// libFuzzer target: the run-time trace reader (read_trace of
// algorithms/stragglers/stragglers.hpp) on the input as a file, then what
// its readers build from it: the observations BDSGD's model trains on and
// a replay straggler model.

#include "algorithms/cutoff/dmm.hpp"
#include "algorithms/data/dataset.hpp"
#include "algorithms/stragglers/stragglers.hpp"

#include "tests/fuzz/fuzz_support.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>

using namespace metronome;
using algorithms::load_error;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string path = fuzz::write_file("trace.csv", data, size);
  std::vector<algorithms::trace_row> rows;
  try {
    rows = algorithms::read_trace(path);
  } catch (const load_error& e) {
    fuzz::expect_names(e.what(), path);
    return 0;
  }
  if (rows.empty())
    std::abort();
  std::size_t workers = 0;
  for (const auto& r : rows)
    workers = std::max(workers, r.worker + 1);
  auto observations = algorithms::observations_from_trace(rows);
  for (const auto& o : observations)
    if (o.seconds.size() != workers || o.censored.size() != workers)
      std::abort();
  // Replay the trace on the workers it names (at most 64 of them).
  algorithms::straggler_spec replay;
  replay.model = "replay";
  replay.trace = path;
  std::size_t replayed = std::min<std::size_t>(workers, 64);
  try {
    auto model = algorithms::make_straggler_model({replay}, replayed, 1);
    for (std::size_t w = 0; w < replayed; ++w)
      for (std::uint64_t it :
           {std::uint64_t{0}, rows.front().iteration, ~std::uint64_t{0}})
        if (!(model->delay(w, it, 0.5) >= 0))
          std::abort();
  } catch (const std::invalid_argument&) {
    // A worker without a row in some iteration: the rule refuses it.
  }
  return 0;
}
