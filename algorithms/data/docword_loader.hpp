#pragma once

#include "algorithms/data/dataset.hpp"
#include "algorithms/lda/corpus.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace metronome::algorithms {

/// The most documents, words or tokens a docword file may declare or hold.
constexpr std::uint64_t docword_max_count = 2147483647; // 2^31 - 1
/// The most tokens a docword file may hold in all: 2^28, 1 GiB as
/// load_docword stores them, since one short line can declare any count up
/// to docword_max_count (the samplers keep a topic per token beside them).
constexpr std::uint64_t docword_max_tokens = std::uint64_t{1} << 28;
/// The most empty documents (ids with no entry) a docword file may imply:
/// each costs memory but carries nothing, so a tiny file cannot claim
/// billions of them.
constexpr std::uint64_t docword_max_empty_documents = std::uint64_t{1} << 24;

/// Reads a corpus in the UCI bag-of-words format: `docword_path` holds three
/// header lines D, W and NNZ, then NNZ lines "docID wordID count" (1-based
/// ids, docIDs non-decreasing, each word at most once per document, counts
/// positive; blank lines are skipped); `vocab_path` holds the W words, one
/// per line (non-empty, without blanks, distinct). Document d has the
/// tokens of its lines in file order, each word repeated `count` times;
/// documents without entries are kept, empty. Throws load_error
/// "PATH:LINE: what" for anything malformed or inconsistent, and before
/// allocating for any count it has not checked: D, W <= 2^31 - 1, at most
/// 2^24 empty documents, at most 2^28 tokens in all (docword_max_tokens),
/// W equal to the
/// number of vocabulary lines, lines of at most 4096 bytes. Either path
/// must be a regular file (see open_input_file).
lda::corpus load_docword(const std::string& docword_path,
                         const std::string& vocab_path);

/// Writes `c` in the UCI bag-of-words format that load_docword reads: each
/// document's tokens merged into one "docID wordID count" line per distinct
/// word, in increasing word id, so loading the files gives every document
/// the same bag of words with its tokens sorted by word id (token order is
/// canonicalised). Throws std::invalid_argument for a corpus that could not
/// be read back (no document or word, a word id out of range, offsets not
/// increasing, an empty, blank-holding or repeated word, more than
/// 2^31 - 1 documents or words, more than 2^28 tokens) and load_error when
/// a file cannot be written.
void write_docword(const lda::corpus& c, const std::string& docword_path,
                   const std::string& vocab_path);

} // namespace metronome::algorithms
