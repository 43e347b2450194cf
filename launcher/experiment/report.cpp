#include "launcher/experiment/report.hpp"

#include "launcher/experiment/plot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <string_view>

namespace metronome::launcher::experiment {

namespace {

constexpr const char* style = R"(
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif;
  color: #222; background: #fff; line-height: 1.4;
  max-width: 1120px; margin: 2em auto; padding: 0 1.2em; }
h1 { font-size: 1.6em; margin: 0 0 0.6em; }
h2 { font-size: 1.2em; margin: 1.8em 0 0.6em; padding-bottom: 0.2em;
  border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; }
th, td { padding: 0.3em 0.9em; text-align: left; vertical-align: top; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
table.facts th { font-weight: normal; color: #555; padding-left: 0; }
table.facts td { font-family: "DejaVu Sans Mono", monospace;
  overflow-wrap: anywhere; }
.scroll { overflow-x: auto; }
table.summary th { background: #f2f2f2; border-bottom: 2px solid #555; }
table.summary td { border-bottom: 1px solid #e4e4e4; }
table.summary tbody tr:nth-child(even) { background: #fafafa; }
ul.notes { padding-left: 1.2em; }
figure { margin: 1.4em 0 2em; break-inside: avoid; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { color: #444; margin-top: 0.4em; }
.omitted { color: #a00; }
)";

std::size_t columns(std::string_view s) {
  return std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  });
}

// Whether `cell` starts with a number, like "0.91", "-3e-4" or "12 s".
bool numeric(std::string_view cell) {
  std::size_t i = 0;
  if (i < cell.size() && (cell[i] == '-' || cell[i] == '+'))
    ++i;
  if (i < cell.size() && cell[i] == '.')
    ++i;
  return i < cell.size() && std::isdigit(static_cast<unsigned char>(cell[i]));
}

std::size_t width_of(const text_table& t) {
  std::size_t n = t.header.size();
  for (const auto& row : t.rows)
    n = std::max(n, row.size());
  return n;
}

// A column is right-aligned when most of its non-empty cells are numbers.
std::vector<bool> numeric_columns(const text_table& t, std::size_t n) {
  std::vector<int> numbers(n), texts(n);
  for (const auto& row : t.rows)
    for (std::size_t c = 0; c < row.size(); ++c)
      if (!row[c].empty())
        ++(numeric(row[c]) ? numbers : texts)[c];
  std::vector<bool> right(n);
  for (std::size_t c = 0; c < n; ++c)
    right[c] = numbers[c] > texts[c];
  return right;
}

// `cell` on one line: tabs, newlines and other controls become spaces.
std::string one_line(std::string_view cell) {
  std::string s(cell);
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
      c = ' ';
  return s;
}

void append_line(std::string& out, const std::vector<std::string>& cells,
                 const std::vector<std::size_t>& widths,
                 const std::vector<bool>& right) {
  std::string line;
  for (std::size_t c = 0; c < widths.size(); ++c) {
    std::string cell = c < cells.size() ? one_line(cells[c]) : "";
    std::string pad(widths[c] - columns(cell), ' ');
    if (c > 0)
      line += "  ";
    line += right[c] ? pad + cell : cell + pad;
  }
  line.erase(line.find_last_not_of(' ') + 1);
  out += line + "\n";
}

std::string esc(std::string_view text) {
  return xml_escape(text);
}

void append_facts(std::string& out, const report& r) {
  if (r.facts.empty())
    return;
  out += "<table class=\"facts\">\n";
  for (const auto& [key, value] : r.facts)
    out += fmt::format("<tr><th scope=\"row\">{}</th><td>{}</td></tr>\n",
                       esc(key), esc(value));
  out += "</table>\n";
}

void append_notes(std::string& out, const report& r) {
  if (r.notes.empty())
    return;
  out += "<ul class=\"notes\">\n";
  for (const auto& note : r.notes)
    out += "<li>" + esc(note) + "</li>\n";
  out += "</ul>\n";
}

void append_row(std::string& out, const std::vector<std::string>& cells,
                const std::vector<bool>& right, const char* tag) {
  out += "<tr>";
  for (std::size_t c = 0; c < right.size(); ++c)
    out +=
        fmt::format("<{0}{1}>{2}</{0}>", tag, right[c] ? " class=\"num\"" : "",
                    c < cells.size() ? esc(cells[c]) : "");
  out += "</tr>\n";
}

void append_summary(std::string& out, const text_table& t) {
  std::size_t n = width_of(t);
  if (n == 0)
    return;
  auto right = numeric_columns(t, n);
  out += "<h2>Summary</h2>\n<div class=\"scroll\">\n"
         "<table class=\"summary\">\n";
  if (!t.header.empty()) {
    out += "<thead>\n";
    append_row(out, t.header, right, "th");
    out += "</thead>\n";
  }
  out += "<tbody>\n";
  for (const auto& row : t.rows)
    append_row(out, row, right, "td");
  out += "</tbody>\n</table>\n</div>\n";
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Whether one attribute (its name and value) neither runs nor loads
// anything.
bool safe_attribute(const std::string& name, const std::string& value) {
  if (name.rfind("on", 0) == 0 || name.find("href") != std::string::npos ||
      name == "src")
    return false;
  for (auto i = value.find("url("); i != std::string::npos;
       i = value.find("url(", i + 1))
    if (value.compare(i + 4, 1, "#") != 0)
      return false;
  return true;
}

// Reads the attribute starting at svg[i] into `name` and `value`
// (lower-cased); returns the position after it.
std::size_t read_attribute(std::string_view svg, std::size_t i,
                           std::string& name, std::string& value) {
  auto at = [&](std::size_t k) { return std::min(k, svg.size()); };
  std::size_t j = at(svg.find_first_of(" \t\r\n=/>", i));
  name = lower(svg.substr(i, j - i));
  value.clear();
  i = at(svg.find_first_not_of(" \t\r\n", j));
  if (i == svg.size() || svg[i] != '=')
    return i;
  i = at(svg.find_first_not_of(" \t\r\n", i + 1));
  if (i == svg.size())
    return i;
  bool quoted = svg[i] == '"' || svg[i] == '\'';
  j = at(quoted ? svg.find(svg[i], i + 1) : svg.find_first_of(" \t\r\n>", i));
  value = lower(svg.substr(i + quoted, j - i - quoted));
  return at(j + quoted);
}

// Whether the markup starting at svg[begin] (a '<') is safe; sets `end` to
// the '>' closing it.
bool safe_tag(std::string_view svg, std::size_t begin, std::size_t& end) {
  static const char* const banned[] = {"script", "foreignobject", "style",
                                       "iframe", "object",        "embed"};
  std::size_t i = std::min(svg.find_first_not_of("/?!", begin + 1), svg.size());
  std::size_t j = std::min(svg.find_first_of(" \t\r\n/>", i), svg.size());
  std::string name = lower(svg.substr(i, j - i)), attribute, value;
  if (std::find(std::begin(banned), std::end(banned), name) != std::end(banned))
    return false;
  for (i = j; i < svg.size() && svg[i] != '>';) {
    i = std::min(svg.find_first_not_of(" \t\r\n/?", i), svg.size());
    if (i == svg.size() || svg[i] == '>')
      break;
    i = read_attribute(svg, i, attribute, value);
    if (!safe_attribute(attribute, value))
      return false;
  }
  end = i;
  return true;
}

// Whether the markup of `svg` holds nothing that runs or loads: no script
// or foreign element, no event handler, no link, no external url().
bool safe_svg(std::string_view svg) {
  for (std::size_t i = svg.find('<'); i != std::string_view::npos;
       i = svg.find('<', i + 1)) {
    if (svg.substr(i, 4) == "<!--") {
      i = svg.find("-->", i);
    } else if (svg.substr(i, 9) == "<![CDATA[") {
      i = svg.find("]]>", i);
    } else if (!safe_tag(svg, i, i)) {
      return false;
    }
    if (i == std::string_view::npos)
      return true;
  }
  return true;
}

// `svg` without its XML prolog and namespace declarations, which HTML does
// not need and which would be the page's only external-looking addresses.
std::string inline_svg(std::string svg) {
  auto start = svg.find("<svg");
  svg.erase(0, start == std::string::npos ? 0 : start);
  for (const char* ns : {" xmlns=\"http://www.w3.org/2000/svg\"",
                         " xmlns:xlink=\"http://www.w3.org/1999/xlink\""})
    for (auto i = svg.find(ns); i != std::string::npos; i = svg.find(ns))
      svg.erase(i, std::char_traits<char>::length(ns));
  if (!svg.empty() && svg.back() != '\n')
    svg += '\n';
  return svg;
}

void append_figures(std::string& out, const std::vector<report_figure>& f) {
  if (f.empty())
    return;
  out += "<h2>Figures</h2>\n";
  for (const auto& figure : f) {
    out += "<figure>\n";
    if (safe_svg(figure.svg))
      out += inline_svg(figure.svg);
    else
      out += "<p class=\"omitted\">This figure was left out: its SVG holds "
             "a script, a link or an external reference.</p>\n";
    if (!figure.caption.empty())
      out += "<figcaption>" + esc(figure.caption) + "</figcaption>\n";
    out += "</figure>\n";
  }
}

} // namespace

std::string html(const report& r) {
  std::string title = r.title.empty() ? "Experiment report" : r.title;
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
                    "<meta charset=\"utf-8\"/>\n"
                    "<meta name=\"viewport\" content=\"width=device-width, "
                    "initial-scale=1\"/>\n";
  out += "<title>" + esc(title) + "</title>\n";
  out += std::string("<style>") + style + "</style>\n</head>\n<body>\n";
  out += "<h1>" + esc(title) + "</h1>\n";
  append_facts(out, r);
  append_notes(out, r);
  append_summary(out, r.summary);
  append_figures(out, r.figures);
  return out + "</body>\n</html>\n";
}

std::string plain_text(const text_table& table) {
  std::size_t n = width_of(table);
  if (n == 0)
    return "";
  std::vector<std::size_t> widths(n);
  auto widen = [&](const std::vector<std::string>& cells) {
    for (std::size_t c = 0; c < cells.size(); ++c)
      widths[c] = std::max(widths[c], columns(one_line(cells[c])));
  };
  widen(table.header);
  for (const auto& row : table.rows)
    widen(row);
  auto right = numeric_columns(table, n);
  std::string out;
  if (!table.header.empty()) {
    append_line(out, table.header, widths, right);
    std::vector<std::string> rules;
    for (auto w : widths)
      rules.emplace_back(w, '-');
    append_line(out, rules, widths, std::vector<bool>(n));
  }
  for (const auto& row : table.rows)
    append_line(out, row, widths, right);
  return out;
}

} // namespace metronome::launcher::experiment
