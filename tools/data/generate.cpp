#include "tools/data/generate.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace metronome::tools {

int run_lasso_data(const lasso_data_options& o) {
  try {
    std::vector<double> truth;
    auto d = algorithms::lasso::generate(o.spec, truth);
    algorithms::lasso::write_libsvm(d, o.out);
    auto truth_path = o.out + ".truth";
    std::ofstream t(truth_path);
    for (double b : truth)
      t << fmt::format("{:.17g}\n", b);
    t.close();
    if (!t)
      throw std::runtime_error("cannot write " + truth_path);
    fmt::print("{{\"data\":\"{}\",\"truth\":\"{}\",\"samples\":{},"
               "\"features\":{},\"stored\":{}}}\n",
               o.out, truth_path, d.samples(), d.features(), d.x.nonZeros());
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "data lasso: {}\n", e.what());
    return 2;
  }
}

} // namespace metronome::tools
