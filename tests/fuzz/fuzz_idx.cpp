// libFuzzer target: the IDX loader (algorithms/data/idx_loader.hpp) on an
// images file and a labels file, plain or gzip'd, as the Fashion-MNIST
// package ships them.
//
// Input: a byte giving the sample limit (0: all), two little-endian bytes
// giving the length of the images file, the images file, the labels file.

#include "algorithms/data/idx_loader.hpp"

#include "tests/fuzz/fuzz_support.hpp"

#include <cstdint>
#include <cstdlib>
#include <utility>

using namespace metronome;
using algorithms::load_error;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size < 3)
    return 0;
  std::size_t limit = data[0];
  std::size_t images_size =
      (data[1] | (std::size_t{data[2]} << 8)) % (size - 2);
  data += 3;
  size -= 3;
  std::string images = fuzz::write_file("images.idx", data, images_size);
  std::string labels =
      fuzz::write_file("labels.idx", data + images_size, size - images_size);
  // The header reader of the topology check (a broken gzip stream is a
  // read error).
  for (const auto& [path, is_images] :
       {std::pair{images, true}, std::pair{labels, false}}) {
    try {
      algorithms::read_idx_header(path, is_images);
    } catch (const load_error& e) {
      fuzz::expect_names(e.what(), path);
    }
  }
  try {
    auto d = algorithms::load_idx(images, labels, limit);
    if (d.dense.cols() != static_cast<Eigen::Index>(d.labels.size()) ||
        d.dense.rows() != static_cast<Eigen::Index>(d.num_features) ||
        d.labels.empty() || (limit > 0 && d.labels.size() > limit))
      std::abort();
  } catch (const load_error& e) {
    std::string_view what = e.what();
    if (what.find(images) == what.npos)
      fuzz::expect_names(what, labels);
  }
  return 0;
}
