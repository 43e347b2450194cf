// libFuzzer target: the UCI bag-of-words loader (load_docword of
// algorithms/data/docword_loader.hpp); a corpus it loads is written back
// with write_docword and must load again as the same bags of words.
//
// Input: the docword file, a NUL byte, the vocabulary file.
//
// The format lets a line of 15 bytes hold 2^28 tokens (1 GiB as the
// loader stores them), which load_docword allows by design; inputs whose
// counts add up to more than 2^24 tokens are skipped so that a run stays
// within its memory limit.

#include "algorithms/data/docword_loader.hpp"

#include "tests/fuzz/fuzz_support.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>

using namespace metronome;
using algorithms::load_error;

namespace {

void check(const algorithms::lda::corpus& c) {
  if (c.offsets.empty() || c.offsets.front() != 0 ||
      c.offsets.back() != c.words.size() ||
      !std::is_sorted(c.offsets.begin(), c.offsets.end()))
    std::abort();
  for (auto w : c.words)
    if (w >= c.vocabulary.size())
      std::abort();
}

// Document d's words, sorted: what write_docword keeps of it.
std::vector<std::uint32_t> bag(const algorithms::lda::corpus& c,
                               std::size_t d) {
  std::vector<std::uint32_t> out(c.words.begin() + c.offsets[d],
                                 c.words.begin() + c.offsets[d + 1]);
  std::sort(out.begin(), out.end());
  return out;
}

// The sum of the third fields of the lines after the header, as far as
// they are numbers.
std::uint64_t declared_tokens(std::string_view docword) {
  std::uint64_t sum = 0;
  std::size_t line = 0;
  for (std::size_t at = 0; at < docword.size(); ++line) {
    auto end = docword.find('\n', at);
    auto text = docword.substr(at, end == docword.npos ? end : end - at);
    at = end == docword.npos ? docword.size() : end + 1;
    if (line < 3)
      continue;
    std::size_t pos = 0;
    std::string_view field;
    for (int i = 0; i < 3 && pos != text.npos; ++i) {
      pos = text.find_first_not_of(" \t\r", pos);
      auto stop = std::min(text.find_first_of(" \t\r", pos), text.size());
      field = pos == text.npos || i < 2 ? std::string_view{}
                                        : text.substr(pos, stop - pos);
      pos = pos == text.npos ? pos : stop;
    }
    std::uint64_t v = 0;
    auto [ptr, ec] =
        std::from_chars(field.data(), field.data() + field.size(), v);
    if (ec == std::errc())
      sum += std::min<std::uint64_t>(v, std::uint64_t{1} << 32);
  }
  return sum;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string_view docword, vocab;
  fuzz::split(data, size, std::string_view("\0", 1), docword, vocab);
  if (declared_tokens(docword) > (std::uint64_t{1} << 24))
    return 0;
  std::string docword_path = fuzz::write_file("docword.txt", docword);
  std::string vocab_path = fuzz::write_file("vocab.txt", vocab);
  algorithms::lda::corpus c;
  try {
    c = algorithms::load_docword(docword_path, vocab_path);
  } catch (const load_error& e) {
    std::string_view what = e.what();
    if (what.find(docword_path) == what.npos)
      fuzz::expect_names(what, vocab_path);
    return 0;
  }
  check(c);
  std::string again_docword = (fuzz::scratch_dir() / "docword-2.txt").string();
  std::string again_vocab = (fuzz::scratch_dir() / "vocab-2.txt").string();
  algorithms::write_docword(c, again_docword, again_vocab);
  auto again = algorithms::load_docword(again_docword, again_vocab);
  check(again);
  if (again.vocabulary != c.vocabulary || again.offsets != c.offsets)
    std::abort();
  for (std::size_t d = 0; d < c.documents(); ++d)
    if (bag(again, d) != bag(c, d))
      std::abort();
  return 0;
}
