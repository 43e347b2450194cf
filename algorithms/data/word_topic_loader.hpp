#pragma once

#include "algorithms/lda/lda.hpp"

#include <cstddef>
#include <string>

namespace metronome::algorithms {

/// Reads word-topic counts in the text form LightLDA dumps its model in
/// (server_0_table_0.model): a line per word, "WORD TOPIC:COUNT ...", word
/// ids 0-based below `vocabulary`, topics below `topics`, counts int32;
/// words without a line have no counts. Returns rows of every word. Throws
/// load_error "PATH:LINE: what" for anything else (a word twice, a bad
/// field, a line longer than `topics` entries could be), and refuses
/// FIFOs, devices and directories at once.
lda::word_topic_rows load_word_topic_counts(const std::string& path,
                                            std::size_t vocabulary,
                                            std::size_t topics);

} // namespace metronome::algorithms
