// libFuzzer target: the Brown corpus reader (load_brown of
// algorithms/data/brown_loader.hpp) on a directory of up to three document
// files and a stop-word list.
//
// Input: the stop-word list, then the documents, separated by NUL bytes
// (the documents become ca01, ca02 and cb01).

#include "algorithms/data/brown_loader.hpp"

#include "tests/fuzz/fuzz_support.hpp"

#include <cstdint>
#include <cstdlib>
#include <filesystem>

using namespace metronome;
using algorithms::load_error;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  static const char* names[] = {"brown/ca01", "brown/ca02", "brown/cb01"};
  std::error_code ec;
  std::filesystem::create_directories(fuzz::scratch_dir() / "brown", ec);
  for (const char* name : names)
    std::filesystem::remove(fuzz::scratch_dir() / name, ec);
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::string_view stopwords;
  fuzz::split(data, size, std::string_view("\0", 1), stopwords, rest);
  std::string stop_path = fuzz::write_file("stopwords.txt", stopwords);
  std::vector<std::string> paths;
  for (const char* name : names) {
    if (rest.data() == nullptr)
      break;
    std::string_view doc, next;
    fuzz::split(reinterpret_cast<const std::uint8_t*>(rest.data()), rest.size(),
                std::string_view("\0", 1), doc, next);
    paths.push_back(fuzz::write_file(name, doc));
    rest = next;
  }
  std::string dir = (fuzz::scratch_dir() / "brown").string();
  try {
    auto c = algorithms::load_brown(dir, stop_path);
    if (c.documents() != paths.size() || c.offsets.back() != c.words.size())
      std::abort();
    for (auto w : c.words)
      if (w >= c.vocabulary.size())
        std::abort();
  } catch (const load_error& e) {
    std::string_view what = e.what();
    bool named =
        what.find(dir) != what.npos || what.find(stop_path) != what.npos;
    if (!named) {
      std::fprintf(stderr, "message names no file: %s\n", e.what());
      std::abort();
    }
  }
  return 0;
}
