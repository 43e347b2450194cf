// libFuzzer target: LightLDA's word-topic model dump
// (load_word_topic_counts of algorithms/data/word_topic_loader.hpp), for a
// vocabulary of 1 to 4096 words and 1 to 256 topics.
//
// Input: two little-endian bytes for the vocabulary, one for the topics,
// then the file.

#include "algorithms/data/dataset.hpp"
#include "algorithms/data/word_topic_loader.hpp"

#include "tests/fuzz/fuzz_support.hpp"

#include <cstdint>
#include <cstdlib>

using namespace metronome;
using algorithms::load_error;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (size < 3)
    return 0;
  std::size_t vocabulary = 1 + (data[0] | (std::size_t{data[1]} << 8)) % 4096;
  std::size_t topics = 1 + data[2];
  std::string path = fuzz::write_file("counts.model", data + 3, size - 3);
  try {
    auto rows = algorithms::load_word_topic_counts(path, vocabulary, topics);
    if (rows.words().size() != vocabulary || rows.topics() != topics)
      std::abort();
    for (std::size_t i = 0; i < vocabulary; ++i)
      for (std::size_t k = 0; k < topics; ++k)
        if (rows.row(i)[k] < 0)
          std::abort();
  } catch (const load_error& e) {
    fuzz::expect_names(e.what(), path);
  }
  return 0;
}
