#include "algorithms/data/docword_loader.hpp"

#include "algorithms/data/input_file.hpp"
#include "algorithms/data/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <new>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

namespace metronome::algorithms {

namespace {

constexpr std::size_t max_line = 4096;

// The upper bound of a field: a header count (named, with its line) or the
// format's cap.
struct limit {
  std::uint64_t value = docword_max_count;
  const char* name = nullptr;
  int line = 0;

  std::string describe() const {
    return name ? fmt::format("{} = {} (line {})", name, value, line)
                : std::string("2^31 - 1");
  }
};

// An integer field in lo..hi.value.
std::uint64_t parse_count(const line_reader& r, std::string_view tok,
                          std::string_view name, std::int64_t lo,
                          const limit& hi = {}) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
  if (ec == std::errc::result_out_of_range)
    throw r.error(fmt::format("{} {} is out of range (at most {})", name,
                              quoted_excerpt(tok), hi.describe()));
  if (ec != std::errc() || end != tok.data() + tok.size())
    throw r.error(
        fmt::format("{} '{}' is not an integer", name, quoted_excerpt(tok)));
  if (v < lo)
    throw r.error(
        lo == 1 ? fmt::format("{} must be positive, got {}", name, v)
                : fmt::format("{} must not be negative, got {}", name, v));
  if (static_cast<std::uint64_t>(v) > hi.value)
    throw r.error(fmt::format("{} {} exceeds {}", name, v, hi.describe()));
  return static_cast<std::uint64_t>(v);
}

struct docword_header {
  std::uint64_t documents = 0;
  std::uint64_t words = 0;
  std::uint64_t entries = 0;
};

std::uint64_t read_header_line(line_reader& r, std::string_view name,
                               std::string_view meaning, std::int64_t lo) {
  std::string_view line;
  if (!r.next(line))
    throw r.error_at(r.line_number() + 1,
                     fmt::format("truncated header: missing {} ({}) on line "
                                 "{}",
                                 name, meaning, r.line_number() + 1));
  std::size_t pos = 0;
  std::string_view tok = next_field(line, pos);
  if (tok.empty())
    throw r.error(
        fmt::format("blank header line: expected {} ({})", name, meaning));
  std::uint64_t v = parse_count(r, tok, name, lo);
  std::string_view extra = next_field(line, pos);
  if (!extra.empty())
    throw r.error(fmt::format("trailing garbage '{}' after {}",
                              quoted_excerpt(extra), name));
  return v;
}

docword_header read_header(line_reader& r) {
  docword_header h;
  h.documents = read_header_line(r, "D", "the number of documents", 1);
  h.words = read_header_line(r, "W", "the number of words", 1);
  h.entries = read_header_line(r, "NNZ", "the number of entries", 0);
  if (h.entries > h.documents * h.words)
    throw r.error(fmt::format("NNZ {} exceeds D x W = {} x {}", h.entries,
                              h.documents, h.words));
  return h;
}

void check_word(const line_reader& r, std::string_view word,
                std::unordered_map<std::string, std::size_t>& seen) {
  if (word.empty())
    throw r.error("empty word (one word per line)");
  if (std::any_of(word.begin(), word.end(), is_blank))
    throw r.error(fmt::format("word '{}' holds a blank (one word per line)",
                              quoted_excerpt(word)));
  auto [it, fresh] = seen.emplace(std::string(word), r.line_number());
  if (!fresh)
    throw r.error(fmt::format("duplicate word '{}' (first on line {})",
                              quoted_excerpt(word), it->second));
}

std::vector<std::string> read_vocabulary(const std::string& path,
                                         std::uint64_t words,
                                         const std::string& docword_path) {
  line_reader r(path, max_line);
  std::vector<std::string> vocabulary;
  std::unordered_map<std::string, std::size_t> seen;
  std::string_view line;
  while (r.next(line)) {
    if (vocabulary.size() == words)
      throw r.error(
          fmt::format("more than W = {} words ({}:2)", words, docword_path));
    std::string_view word = trim(line);
    check_word(r, word, seen);
    vocabulary.emplace_back(word);
  }
  if (vocabulary.size() < words)
    throw r.error_at(r.line_number() + 1,
                     fmt::format("the file ends after {} words, but W = {} "
                                 "({}:2)",
                                 vocabulary.size(), words, docword_path));
  return vocabulary;
}

// Reads the entries after the header into a corpus. The words and counts
// are kept until the end so the tokens are allocated once, after every
// count has been checked.
class body_reader {
public:
  body_reader(line_reader& r, const docword_header& h)
      : r_(r)
      , h_(h)
      , last_doc_(h.words, 0) {}

  void read(lda::corpus& c) {
    std::string_view line;
    while (r_.next(line))
      if (!trim(line).empty())
        read_entry(line, c);
    if (entries_.size() < h_.entries)
      throw r_.error_at(r_.line_number() + 1,
                        fmt::format("the file ends after {} of NNZ = {} "
                                    "entries (truncated?)",
                                    entries_.size(), h_.entries));
    if (h_.documents - nonempty_ > docword_max_empty_documents)
      throw r_.error_at(1, fmt::format("D = {} leaves {} documents without "
                                       "entries (at most {} allowed)",
                                       h_.documents, h_.documents - nonempty_,
                                       docword_max_empty_documents));
    close_until(c, h_.documents);
    expand(c);
  }

private:
  void close_until(lda::corpus& c, std::uint64_t documents) {
    while (c.documents() < documents)
      c.offsets.push_back(tokens_);
  }

  void read_entry(std::string_view line, lda::corpus& c) {
    std::size_t pos = 0;
    std::string_view f[3];
    for (auto& tok : f)
      tok = next_field(line, pos);
    if (f[2].empty())
      throw r_.error(fmt::format("missing {} (expected 'docID wordID count')",
                                 f[1].empty() ? "wordID and count" : "count"));
    std::string_view extra = next_field(line, pos);
    if (!extra.empty())
      throw r_.error(fmt::format("trailing garbage '{}' after the count",
                                 quoted_excerpt(extra)));
    if (entries_.size() == h_.entries)
      throw r_.error(
          fmt::format("more entries than NNZ = {} (line 3)", h_.entries));
    auto doc = parse_count(r_, f[0], "docID", 1, {h_.documents, "D", 1});
    auto word = parse_count(r_, f[1], "wordID", 1, {h_.words, "W", 2});
    auto count = parse_count(r_, f[2], "count", 1);
    open(doc, c);
    add(static_cast<std::uint32_t>(doc), static_cast<std::uint32_t>(word - 1),
        count);
  }

  void open(std::uint64_t doc, lda::corpus& c) {
    if (doc < open_doc_)
      throw r_.error(fmt::format("docID {} after docID {}: entries must be "
                                 "sorted by document",
                                 doc, open_doc_));
    if (doc == open_doc_)
      return;
    if (doc - 1 - nonempty_ > docword_max_empty_documents)
      throw r_.error(fmt::format("docID {} leaves {} documents without "
                                 "entries (at most {} allowed)",
                                 doc, doc - 1 - nonempty_,
                                 docword_max_empty_documents));
    close_until(c, doc - 1);
    open_doc_ = doc;
    ++nonempty_;
  }

  void add(std::uint32_t doc, std::uint32_t word, std::uint64_t count) {
    if (last_doc_[word] == doc)
      throw r_.error(
          fmt::format("wordID {} repeated in document {}", word + 1, doc));
    last_doc_[word] = doc;
    if (count > docword_max_tokens - tokens_)
      throw r_.error(fmt::format("more than 2^28 = {} tokens in all (count "
                                 "{} after {} tokens; the memory budget of "
                                 "docs/input-limits.md)",
                                 docword_max_tokens, count, tokens_));
    tokens_ += count;
    entries_.emplace_back(word, static_cast<std::uint32_t>(count));
  }

  void expand(lda::corpus& c) {
    try {
      c.words.reserve(tokens_);
    } catch (const std::bad_alloc&) {
      throw load_error(
          fmt::format("{}: out of memory for {} tokens", r_.path(), tokens_));
    }
    for (auto [word, count] : entries_)
      c.words.insert(c.words.end(), count, word);
  }

  line_reader& r_;
  const docword_header& h_;
  std::vector<std::uint32_t> last_doc_; ///< per word, its latest document
  std::vector<std::pair<std::uint32_t, std::uint32_t>> entries_;
  std::uint64_t tokens_ = 0;
  std::uint64_t open_doc_ = 0;
  std::uint64_t nonempty_ = 0;
};

void check_writable(const lda::corpus& c) {
  auto fail = [](const std::string& what) {
    throw std::invalid_argument("write_docword: " + what);
  };
  if (c.documents() == 0 || c.documents() > docword_max_count)
    fail(fmt::format("{} documents (1 to 2^31 - 1 allowed)", c.documents()));
  if (c.vocabulary.empty() || c.vocabulary.size() > docword_max_count)
    fail(fmt::format("{} words (1 to 2^31 - 1 allowed)", c.vocabulary.size()));
  if (c.tokens() > docword_max_tokens)
    fail(fmt::format("{} tokens (at most 2^28)", c.tokens()));
  if (c.offsets.front() != 0 || c.offsets.back() != c.tokens() ||
      !std::is_sorted(c.offsets.begin(), c.offsets.end()))
    fail("offsets do not delimit the tokens");
  for (auto w : c.words)
    if (w >= c.vocabulary.size())
      fail(fmt::format("word id {} out of the vocabulary of {}", w,
                       c.vocabulary.size()));
  std::unordered_map<std::string_view, std::size_t> seen;
  for (const auto& word : c.vocabulary) {
    if (word.empty() || std::any_of(word.begin(), word.end(), [](char ch) {
          return is_blank(ch) || ch == '\n';
        }))
      fail(fmt::format("word '{}' is empty or holds a blank",
                       quoted_excerpt(word)));
    if (!seen.emplace(word, 0).second)
      fail(fmt::format("word '{}' appears twice", quoted_excerpt(word)));
  }
}

std::uint64_t count_entries(const lda::corpus& c) {
  std::vector<std::size_t> last(c.vocabulary.size(), 0);
  std::uint64_t entries = 0;
  for (std::size_t d = 0; d < c.documents(); ++d)
    for (auto k = c.offsets[d]; k < c.offsets[d + 1]; ++k)
      if (last[c.words[k]] != d + 1) {
        last[c.words[k]] = d + 1;
        ++entries;
      }
  return entries;
}

class output_file {
public:
  explicit output_file(const std::string& path)
      : path_(path)
      , out_(path, std::ios::binary | std::ios::trunc) {
    if (!out_)
      throw load_error(fmt::format("{}: cannot open file for writing: {}", path,
                                   std::strerror(errno)));
  }

  fmt::memory_buffer& buffer() { return buf_; }

  void flush_if_full() {
    if (buf_.size() >= (1u << 20))
      flush();
  }

  void close() {
    flush();
    out_.close();
    if (!out_)
      throw load_error(fmt::format("{}: cannot write file: {}", path_,
                                   std::strerror(errno)));
  }

private:
  void flush() {
    out_.write(buf_.data(), static_cast<std::streamsize>(buf_.size()));
    buf_.clear();
  }

  std::string path_;
  std::ofstream out_;
  fmt::memory_buffer buf_;
};

void write_entries(const lda::corpus& c, output_file& out) {
  std::vector<std::uint32_t> doc;
  for (std::size_t d = 0; d < c.documents(); ++d) {
    doc.assign(c.words.begin() + c.offsets[d],
               c.words.begin() + c.offsets[d + 1]);
    std::sort(doc.begin(), doc.end());
    for (std::size_t k = 0; k < doc.size();) {
      std::size_t run = k;
      while (run < doc.size() && doc[run] == doc[k])
        ++run;
      fmt::format_to(std::back_inserter(out.buffer()), "{} {} {}\n", d + 1,
                     doc[k] + 1, run - k);
      k = run;
    }
    out.flush_if_full();
  }
}

} // namespace

lda::corpus load_docword(const std::string& docword_path,
                         const std::string& vocab_path) {
  line_reader r(docword_path, max_line);
  docword_header h = read_header(r);
  lda::corpus c;
  c.vocabulary = read_vocabulary(vocab_path, h.words, docword_path);
  body_reader(r, h).read(c);
  return c;
}

void write_docword(const lda::corpus& c, const std::string& docword_path,
                   const std::string& vocab_path) {
  check_writable(c);
  output_file vocab(vocab_path);
  for (const auto& word : c.vocabulary) {
    fmt::format_to(std::back_inserter(vocab.buffer()), "{}\n", word);
    vocab.flush_if_full();
  }
  vocab.close();
  output_file out(docword_path);
  fmt::format_to(std::back_inserter(out.buffer()), "{}\n{}\n{}\n",
                 c.documents(), c.vocabulary.size(), count_entries(c));
  write_entries(c, out);
  out.close();
}

} // namespace metronome::algorithms
