#include "algorithms/data/brown_loader.hpp"

#include "algorithms/data/input_file.hpp"
#include "algorithms/data/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <system_error>
#include <unordered_map>

namespace metronome::algorithms {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t max_brown_line = 1 << 20;
constexpr std::size_t max_tokens = 2147483647; // 2^31 - 1

bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

void lower(std::string& s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
}

bool is_brown_name(const std::string& name) {
  return name.size() == 4 && name[0] == 'c' && name[1] >= 'a' &&
         name[1] <= 'r' && is_digit(name[2]) && is_digit(name[3]);
}

// Builds the corpus: the kept tokens and the vocabulary in first-seen order.
class brown_builder {
public:
  explicit brown_builder(std::unordered_set<std::string> stopwords)
      : stopwords_(std::move(stopwords)) {}

  void read_file(const std::string& path) {
    line_reader r(path, max_brown_line);
    std::string_view line;
    while (r.next(line)) {
      std::size_t pos = 0;
      for (auto tok = next_field(line, pos); !tok.empty();
           tok = next_field(line, pos))
        add_token(r, tok);
    }
    c_.offsets.push_back(c_.words.size());
  }

  lda::corpus take() { return std::move(c_); }

private:
  void add_token(const line_reader& r, std::string_view tok) {
    auto slash = tok.rfind('/');
    if (slash == std::string_view::npos)
      throw r.error(fmt::format("token '{}' has no /tag", quoted_excerpt(tok)));
    if (slash == 0 || slash + 1 == tok.size())
      throw r.error(fmt::format("token '{}' has an empty {}",
                                quoted_excerpt(tok),
                                slash == 0 ? "word" : "tag"));
    if (brown_punctuation_tag(tok.substr(slash + 1)))
      return;
    word_.assign(tok.substr(0, slash));
    if (std::none_of(word_.begin(), word_.end(), is_letter))
      return;
    lower(word_);
    if (stopwords_.count(word_) != 0)
      return;
    if (c_.words.size() == max_tokens)
      throw r.error("more than 2^31 - 1 tokens in all");
    auto [it, fresh] = ids_.emplace(word_, c_.vocabulary.size());
    if (fresh)
      c_.vocabulary.push_back(word_);
    c_.words.push_back(it->second);
  }

  std::unordered_set<std::string> stopwords_;
  std::unordered_map<std::string, std::uint32_t> ids_;
  std::string word_;
  lda::corpus c_;
};

} // namespace

std::unordered_set<std::string> load_stopwords(const std::string& path) {
  line_reader r(path);
  std::unordered_set<std::string> words;
  std::string_view line;
  while (r.next(line)) {
    std::string_view text = trim(line.substr(0, line.find('#')));
    if (text.empty())
      continue;
    if (std::any_of(text.begin(), text.end(), is_blank))
      throw r.error(fmt::format("'{}' is more than one word (one stop word "
                                "per line)",
                                quoted_excerpt(text)));
    std::string word(text);
    lower(word);
    words.insert(std::move(word));
  }
  return words;
}

std::vector<std::string> brown_files(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw load_error(fmt::format("{}: not a Brown corpus directory: it is {}",
                                 dir, describe_path(dir)));
  std::vector<std::string> files;
  fs::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec))
    if (is_brown_name(it->path().filename().string()))
      files.push_back(it->path().string());
  if (ec)
    throw load_error(
        fmt::format("{}: cannot list directory: {}", dir, ec.message()));
  if (files.empty())
    throw load_error(fmt::format("{}: no Brown corpus file (ca01 ... cr09) "
                                 "in the directory",
                                 dir));
  std::sort(files.begin(), files.end());
  return files;
}

bool brown_punctuation_tag(std::string_view tag) {
  for (bool stripped = true; stripped;) {
    stripped = false;
    for (std::string_view suffix : {"-hl", "-tl", "-nc"})
      if (tag.size() > suffix.size() &&
          tag.substr(tag.size() - suffix.size()) == suffix) {
        tag.remove_suffix(suffix.size());
        stripped = true;
      }
  }
  return tag != "*" && std::none_of(tag.begin(), tag.end(), is_letter);
}

lda::corpus load_brown(const std::string& dir,
                       const std::string& stopwords_path) {
  auto files = brown_files(dir);
  brown_builder builder(load_stopwords(stopwords_path));
  for (const auto& f : files)
    builder.read_file(f);
  return builder.take();
}

} // namespace metronome::algorithms
