#pragma once

#include <string>
#include <utility>
#include <vector>

namespace metronome::launcher::experiment {

/// A table of text cells with a header row.
struct text_table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

/// One figure of the report: its caption and the SVG document itself.
struct report_figure {
  std::string caption;
  std::string svg;
};

/// What the HTML report shows, in this order: title, facts (key/value
/// lines: commit, binary, host, date, trials), notes, the summary table,
/// then every figure.
struct report {
  std::string title;
  std::vector<std::pair<std::string, std::string>> facts;
  std::vector<std::string> notes;
  text_table summary;
  std::vector<report_figure> figures;
};

/// A self-contained HTML5 page (figures inline as SVG, CSS inline, no
/// script, no external reference), openable from the file system with no
/// server and no network. All text is HTML-escaped. A figure's SVG is
/// inlined without its XML prolog and namespace declaration; one whose
/// markup holds a script, foreign object, event handler, link or external
/// url() is left out with a note instead. The page is well-formed XML when
/// its figures are.
std::string html(const report& r);

/// `table` as aligned plain text for a terminal: columns padded to their
/// widest cell, numbers right-aligned, header underlined. Widths count
/// UTF-8 characters; a column is right-aligned (header included) when most
/// of its non-empty cells start with a number ("0.91", "12 s"); trailing
/// spaces are trimmed and control characters become spaces.
std::string plain_text(const text_table& table);

} // namespace metronome::launcher::experiment
