// libFuzzer target: the LIBSVM loaders (algorithms/data/libsvm_loader.hpp)
// on the input as a file, as classification and as regression data, and
// the line check the topology reader runs on each of its lines.
//
// The loaders size their matrices by the largest index, up to 2^24 by
// design: a 13-byte file with index 16777208 takes 0.3 s and 400 MB in a
// Release build, 20 s under the sanitizers. Files with an index above 2^16
// (that the line check accepts) are only line-checked, so that a run is
// not spent on them; larger indices take no other path.

#include "algorithms/data/libsvm_loader.hpp"

#include "tests/fuzz/fuzz_support.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace metronome;
using algorithms::load_error;

namespace {

// Whether the topology check would pass the file: every line through the
// line check (lines split as line_reader splits them), at least one sample.
// Sets `largest` to the largest index of the lines.
bool check_passes(std::string_view text, algorithms::libsvm_labels mode,
                  std::int64_t& largest) {
  std::size_t samples = 0;
  algorithms::libsvm_line parsed;
  for (std::size_t at = 0; at < text.size();) {
    auto end = text.find('\n', at);
    auto line = text.substr(at, end == std::string_view::npos ? end : end - at);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    auto content = algorithms::libsvm_content(line);
    if (!content.empty()) {
      if (!algorithms::libsvm_line_problem(content, mode).empty())
        return false;
      algorithms::parse_libsvm_line(content, mode, 0, parsed);
      for (const auto& f : parsed.features)
        largest = std::max(largest, f.index);
      ++samples;
    }
    if (end == std::string_view::npos)
      break;
    at = end + 1;
  }
  return samples > 0;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string path = fuzz::write_file("input.libsvm", data, size);
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::int64_t largest = 0;
  bool binary = check_passes(text, algorithms::libsvm_labels::binary, largest);
  bool real = check_passes(text, algorithms::libsvm_labels::real, largest);
  if (largest > (1 << 16))
    return 0;
  // The loaders accept a file exactly when the topology check does.
  bool loaded = true;
  try {
    auto d = algorithms::load_libsvm(path);
    if (d.sparse.cols() != static_cast<std::int64_t>(d.labels.size()) ||
        d.sparse.rows() != static_cast<std::int64_t>(d.num_features) ||
        d.labels.empty())
      std::abort();
  } catch (const load_error& e) {
    fuzz::expect_names(e.what(), path);
    loaded = false;
  }
  if (loaded != binary)
    std::abort();
  loaded = true;
  try {
    auto r = algorithms::load_libsvm_regression(path);
    if (r.x.rows() != static_cast<std::int64_t>(r.samples()) || r.y.empty())
      std::abort();
  } catch (const load_error& e) {
    fuzz::expect_names(e.what(), path);
    loaded = false;
  }
  if (loaded != real)
    std::abort();
  return 0;
}
