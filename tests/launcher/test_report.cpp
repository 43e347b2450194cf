// The figures and the HTML report of `metronome experiment`: SVG documents
// are checked with xmllint, the page is rendered with headless Chromium when
// it is installed.

#include "launcher/experiment/plot.hpp"
#include "launcher/experiment/report.hpp"
#include "tests/support.hpp"

#include <gtest/gtest.h>

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

using namespace metronome::launcher::experiment;
using metronome::test::run;
using metronome::test::temp_dir;
using metronome::test::write_file;
namespace fs = std::filesystem;

namespace {

const double not_a_number = std::numeric_limits<double>::quiet_NaN();
const double infinity = std::numeric_limits<double>::infinity();
const std::string nasty = "a<b & \"c\" 'd'>";

bool on_path(const std::string& program) {
  return run("command -v " + program + " >/dev/null").exit_code == 0;
}

#define REQUIRE_XMLLINT()                                                      \
  if (!on_path("xmllint"))                                                     \
  GTEST_SKIP() << "xmllint is not installed (Debian package libxml2-utils)"

::testing::AssertionResult well_formed(const std::string& document) {
  temp_dir dir;
  write_file(dir / "doc.xml", document);
  auto r = run("xmllint --noout '" + (dir / "doc.xml").string() + "'");
  if (r.exit_code == 0 && r.output.empty())
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "xmllint: " << r.output << "\n"
                                       << document;
}

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto i = haystack.find(needle); i != std::string::npos;
       i = haystack.find(needle, i + needle.size()))
    ++n;
  return n;
}

// The series groups of an SVG, in order (they hold no nested group).
std::vector<std::string> series_groups(const std::string& svg) {
  std::vector<std::string> out;
  for (auto i = svg.find("<g class=\"series\""); i != std::string::npos;
       i = svg.find("<g class=\"series\"", i + 1))
    out.push_back(svg.substr(i, svg.find("</g>", i) + 4 - i));
  return out;
}

std::vector<std::string> data_labels(const std::string& svg) {
  std::vector<std::string> out;
  std::regex re("class=\"series\" data-label=\"([^\"]*)\"");
  for (std::sregex_iterator it(svg.begin(), svg.end(), re), end; it != end;
       ++it)
    out.push_back((*it)[1]);
  return out;
}

// Points of every <polyline class="line"> in `svg`, as (x, y) pixels.
std::vector<std::vector<std::pair<double, double>>>
polylines(const std::string& svg, const std::string& kind = "line") {
  std::vector<std::vector<std::pair<double, double>>> out;
  std::regex re("<polyline class=\"" + kind + "\" points=\"([^\"]*)\"");
  for (std::sregex_iterator it(svg.begin(), svg.end(), re), end; it != end;
       ++it) {
    std::istringstream in((*it)[1].str());
    out.emplace_back();
    double x, y;
    char comma;
    while (in >> x >> comma >> y)
      out.back().emplace_back(x, y);
  }
  return out;
}

// The tick labels of one axis ("x-axis" or "y-axis") of `svg`.
std::vector<std::string> tick_labels(const std::string& svg,
                                     const std::string& which) {
  auto begin = svg.find("<g class=\"axis " + which + "\">");
  std::string axis = svg.substr(begin, svg.find("</g>", begin) - begin);
  std::vector<std::string> out;
  std::regex re("class=\"tick\"[^>]*>([^<]*)</text>");
  for (std::sregex_iterator it(axis.begin(), axis.end(), re), end; it != end;
       ++it)
    out.push_back((*it)[1]);
  return out;
}

// Whether `v` is 1, 2 or 5 times a power of ten.
bool nice(double v) {
  double m = v / std::pow(10, std::floor(std::log10(v)));
  for (double f : {1.0, 2.0, 5.0, 10.0})
    if (std::abs(m - f) < 1e-9)
      return true;
  return false;
}

series curve(const std::string& label, std::vector<double> mean,
             bool band = false) {
  series s;
  s.label = label;
  for (std::size_t i = 0; i < mean.size(); ++i) {
    s.x.push_back(static_cast<double>(i + 1));
    if (band) {
      s.low.push_back(mean[i] * 0.9);
      s.high.push_back(mean[i] * 1.1);
    }
  }
  s.mean = std::move(mean);
  return s;
}

line_figure three_lines() {
  line_figure f;
  f.title = "Loss " + nasty;
  f.x_label = "step";
  f.y_label = "loss";
  f.lines = {curve("banded <1>", {3, 2, 1.5, 1.2}, true),
             curve("plain & simple", {2.5, 2, 1.8, 1.1}),
             curve(nasty, {2, 1.4, 1.1, 0.9}, true)};
  return f;
}

bar_figure four_bars() {
  bar_figure f;
  f.title = "Time to target";
  f.y_label = "seconds";
  f.bars = {{"ps=1 workers=4", 12.5, 11, 14},
            {"ps=2 workers=8", 8.2, 7.5, 9.1},
            {nasty, not_a_number, not_a_number, not_a_number},
            {"allreduce", 6, 6, 6, "diverged"}};
  return f;
}

histogram_figure two_histograms() {
  histogram_figure f;
  f.title = "Staleness";
  f.x_label = "clocks behind";
  f.y_label = "updates";
  f.series = {{"ssp s=2", {0, 1, 2, 3}, {40, 25, 5}},
              {nasty, {0, 1, 2, 3, 4}, {30, 20, 10, 2}}};
  return f;
}

} // namespace

TEST(NiceTicks, LinearTicksAreNiceAndCoverTheRange) {
  EXPECT_EQ(nice_ticks(0, 1, false),
            (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1}));
  const std::pair<double, double> ranges[] = {
      {0, 1},       {0.3, 0.7},  {-3.2, 17},   {1234, 98765},
      {5, 5},       {0, 0},      {1e-7, 3e-7}, {-1, -0.5},
      {0.13, 0.87}, {-1e9, 1e9}, {99.9, 100.1}};
  for (auto [lo, hi] : ranges) {
    SCOPED_TRACE(testing::Message() << "[" << lo << ", " << hi << "]");
    auto t = nice_ticks(lo, hi, false);
    ASSERT_GE(t.size(), 3u);
    EXPECT_LE(t.size(), 12u);
    EXPECT_LE(t.front(), lo);
    EXPECT_GE(t.back(), hi);
    EXPECT_LT(t.front(), t.back());
    double step = t[1] - t[0];
    EXPECT_TRUE(nice(step)) << step;
    for (std::size_t i = 1; i < t.size(); ++i) {
      EXPECT_NEAR(t[i] - t[i - 1], step, step * 1e-6);
      EXPECT_NEAR(t[i] / step, std::round(t[i] / step), 1e-6);
    }
  }
}

TEST(NiceTicks, LogTicksAreDecades) {
  EXPECT_EQ(nice_ticks(0.01, 10, true),
            (std::vector<double>{0.01, 0.1, 1, 10}));
  EXPECT_EQ(nice_ticks(0.02, 0.8, true),
            (std::vector<double>{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1}));
  EXPECT_EQ(nice_ticks(2, 8, true), (std::vector<double>{1, 2, 5, 10}));
  EXPECT_EQ(nice_ticks(3, 3, true), (std::vector<double>{1, 2, 5, 10}));
  auto wide = nice_ticks(3e-7, 2e6, true);
  ASSERT_GE(wide.size(), 2u);
  EXPECT_LE(wide.size(), 9u);
  EXPECT_LE(wide.front(), 3e-7);
  EXPECT_GE(wide.back(), 2e6);
  for (double t : wide)
    EXPECT_NEAR(std::log10(t), std::round(std::log10(t)), 1e-9) << t;
}

TEST(NiceTicks, RejectsRangesThatCannotBeDrawn) {
  EXPECT_TRUE(nice_ticks(0, 1, true).empty());
  EXPECT_TRUE(nice_ticks(-1, 1, true).empty());
  EXPECT_TRUE(nice_ticks(not_a_number, 1, false).empty());
  EXPECT_TRUE(nice_ticks(0, infinity, false).empty());
  EXPECT_TRUE(nice_ticks(2, 1, false).empty());
}

TEST(CompactNumber, HasNoExponentNoise) {
  EXPECT_EQ(compact_number(0.01), "0.01");
  EXPECT_EQ(compact_number(1), "1");
  EXPECT_EQ(compact_number(0.1 + 0.2), "0.3");
  EXPECT_EQ(compact_number(100000), "100000");
  EXPECT_EQ(compact_number(1e6), "1e6");
  EXPECT_EQ(compact_number(2.5e-5), "2.5e-5");
  EXPECT_EQ(compact_number(-1e-12), "-1e-12");
  EXPECT_EQ(compact_number(-0.0), "0");
  EXPECT_EQ(compact_number(12.3456, 3), "12.3");
  EXPECT_EQ(compact_number(not_a_number), "nan");
  EXPECT_EQ(compact_number(-infinity), "-inf");
}

TEST(XmlEscape, EscapesMarkupAndReplacesBadBytes) {
  EXPECT_EQ(xml_escape("<&\"'>"), "&lt;&amp;&quot;&apos;&gt;");
  EXPECT_EQ(xml_escape("caf\xC3\xA9 \xE2\x89\xA4 1"),
            "caf\xC3\xA9 \xE2\x89\xA4 1");
  EXPECT_EQ(xml_escape("a\xFF"
                       "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(xml_escape("a\x01"
                       "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(xml_escape("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(xml_escape("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(xml_escape("tab\tnew\nline"), "tab\tnew\nline");
}

TEST(Svg, EveryKindIsWellFormedXml) {
  REQUIRE_XMLLINT();
  line_figure all_nan;
  all_nan.title = nasty;
  all_nan.lines = {curve(nasty, {not_a_number, not_a_number})};
  line_figure log_lines = three_lines();
  log_lines.log_x = log_lines.log_y = true;
  bar_figure log_bars = four_bars();
  log_bars.log_y = true;
  line_figure bad_bytes;
  bad_bytes.title = "bytes \xFF\x01\xC0";
  bad_bytes.lines = {curve("\xFE label", {1, 2})};
  const std::string documents[] = {
      svg(three_lines()),     svg(log_lines),    svg(line_figure{}),
      svg(all_nan),           svg(bad_bytes),    svg(four_bars()),
      svg(log_bars),          svg(bar_figure{}), svg(two_histograms()),
      svg(histogram_figure{})};
  for (const auto& doc : documents) {
    EXPECT_EQ(doc.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 0), 0u);
    EXPECT_TRUE(well_formed(doc));
  }
}

TEST(Svg, ExtremeValuesGiveFiniteCoordinates) {
  line_figure f;
  f.lines = {curve("huge", {-1.7e308, 1.7e308}), curve("tiny", {1e-320, 0})};
  line_figure g = f;
  g.log_y = true;
  g.lines.push_back(curve("fine", {1, 10}));
  for (const auto& doc : {svg(f), svg(g)}) {
    EXPECT_EQ(doc.find("nan"), std::string::npos) << doc;
    EXPECT_EQ(doc.find("inf"), std::string::npos) << doc;
  }
  EXPECT_EQ(polylines(svg(g)).size(), 1u);
}

TEST(Svg, ANonXmlDocumentIsCaught) {
  REQUIRE_XMLLINT();
  EXPECT_FALSE(well_formed("<svg><g></svg>"));
  EXPECT_FALSE(well_formed("<svg>a & b</svg>"));
}

TEST(LineFigure, NamesEverySeriesAndBandsOnlyThoseWithIntervals) {
  std::string doc = svg(three_lines());
  EXPECT_EQ(data_labels(doc),
            (std::vector<std::string>{"banded &lt;1&gt;", "plain &amp; simple",
                                      xml_escape(nasty)}));
  auto groups = series_groups(doc);
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(count(groups[0], "<polygon class=\"band\""), 1u);
  EXPECT_EQ(count(groups[1], "<polygon class=\"band\""), 0u);
  EXPECT_EQ(count(groups[2], "<polygon class=\"band\""), 1u);
  for (const auto& g : groups)
    EXPECT_EQ(polylines(g).size(), 1u);
  EXPECT_LT(doc.find("<polygon class=\"band\""),
            doc.find("<polyline class=\"line\""));
  auto legend = doc.substr(doc.find("<g class=\"legend\">"));
  EXPECT_EQ(count(legend, "<g class=\"legend-entry\">"), 3u);
  EXPECT_NE(legend.find(">plain &amp; simple</text>"), std::string::npos);
  EXPECT_NE(doc.find(">Loss a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;<"),
            std::string::npos);
  EXPECT_NE(doc.find("#0072B2"), std::string::npos);
  EXPECT_NE(doc.find("#D55E00"), std::string::npos);
  EXPECT_NE(doc.find("#009E73"), std::string::npos);
}

TEST(LineFigure, NonFiniteValuesBreakTheLine) {
  line_figure f;
  f.lines = {curve("gap", {1, 2, not_a_number, 4, 5, 6})};
  f.lines[0].x[4] = infinity;
  std::string doc = svg(f);
  auto lines = polylines(doc);
  ASSERT_EQ(lines.size(), 1u); // 1-2, then 4 alone, then 6 alone
  EXPECT_EQ(lines[0].size(), 2u);
  EXPECT_EQ(count(doc, "<circle class=\"point\""), 2u);
  EXPECT_EQ(doc.find("nan"), std::string::npos);
  EXPECT_EQ(doc.find("inf"), std::string::npos);

  f.lines = {curve("gap", {1, 2, not_a_number, 4, 5, 6}, true)};
  f.lines[0].high[1] = not_a_number;
  doc = svg(f);
  EXPECT_EQ(polylines(doc).size(), 2u);
  EXPECT_EQ(count(doc, "<polygon class=\"band\""), 2u); // x = 1 | 4..6
}

TEST(LineFigure, LogAxesSkipNonPositiveValues) {
  line_figure f;
  f.log_y = true;
  f.lines = {curve("log", {0.1, 1, 0, -1, 10, 100}, true)};
  std::string doc = svg(f);
  auto lines = polylines(doc);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].size(), 2u);
  EXPECT_EQ(lines[1].size(), 2u);
  EXPECT_EQ(count(doc, "<polygon class=\"band\""), 2u);
  auto y = tick_labels(doc, "y-axis");
  EXPECT_EQ(
      y, (std::vector<std::string>{"0.01", "0.1", "1", "10", "100", "1000"}));
  EXPECT_EQ(doc.find("e+"), std::string::npos);
  EXPECT_EQ(doc.find("e-0"), std::string::npos);

  f.log_y = false;
  lines = polylines(svg(f));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].size(), 6u);

  f.log_x = true;
  f.lines = {curve("x", {1, 2, 3})};
  f.lines[0].x = {0, 10, 1000};
  lines = polylines(svg(f));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].size(), 2u);
}

TEST(LineFigure, TicksAreNiceAndCoverTheData) {
  line_figure f;
  f.lines = {curve("acc", {0.13, 0.5, 0.87})};
  std::string doc = svg(f);
  auto y = tick_labels(doc, "y-axis");
  EXPECT_EQ(y,
            (std::vector<std::string>{"0", "0.2", "0.4", "0.6", "0.8", "1"}));
  auto x = tick_labels(doc, "x-axis");
  ASSERT_GE(x.size(), 3u);
  EXPECT_LE(std::stod(x.front()), 1);
  EXPECT_GE(std::stod(x.back()), 3);
  // Every point lies inside the plot area.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      doc, m,
      std::regex("class=\"frame\" x=\"([0-9.]+)\" y=\"([0-9.]+)\" "
                 "width=\"([0-9.]+)\" height=\"([0-9.]+)\"")));
  double left = std::stod(m[1]), top = std::stod(m[2]);
  double right = left + std::stod(m[3]), bottom = top + std::stod(m[4]);
  auto lines = polylines(doc);
  ASSERT_EQ(lines.size(), 1u);
  for (auto [px, py] : lines[0]) {
    EXPECT_GE(px, left);
    EXPECT_LE(px, right);
    EXPECT_GE(py, top);
    EXPECT_LE(py, bottom);
  }
}

TEST(Figures, EmptyFiguresSayNoData) {
  line_figure nothing_finite;
  nothing_finite.lines = {curve("void", {not_a_number, infinity})};
  for (const auto& doc : {svg(line_figure{}), svg(nothing_finite),
                          svg(bar_figure{}), svg(histogram_figure{})}) {
    EXPECT_NE(doc.find(">no data</text>"), std::string::npos) << doc;
    EXPECT_EQ(doc.find("<polyline"), std::string::npos);
    EXPECT_NE(doc.find("</svg>"), std::string::npos);
  }
  EXPECT_EQ(data_labels(svg(nothing_finite)),
            (std::vector<std::string>{"void"}));
  EXPECT_EQ(svg(three_lines()).find("no data"), std::string::npos);
}

TEST(BarFigure, DrawsBarsWhiskersAndMissingValues) {
  std::string doc = svg(four_bars());
  EXPECT_EQ(data_labels(doc),
            (std::vector<std::string>{"ps=1 workers=4", "ps=2 workers=8",
                                      xml_escape(nasty), "allreduce"}));
  auto groups = series_groups(doc);
  ASSERT_EQ(groups.size(), 4u);
  EXPECT_EQ(count(groups[0], "<rect class=\"bar\""), 1u);
  EXPECT_EQ(count(groups[0], "class=\"whisker\""), 3u);
  EXPECT_EQ(count(groups[2], "<rect class=\"bar\""), 0u);
  EXPECT_NE(groups[2].find(">not reached</text>"), std::string::npos);
  EXPECT_EQ(count(groups[3], "<rect class=\"bar\""), 1u);
  EXPECT_EQ(groups[3].find("diverged"), std::string::npos);
  EXPECT_NE(groups[0].find(">12.5</text>"), std::string::npos);
  auto y = tick_labels(doc, "y-axis");
  ASSERT_FALSE(y.empty());
  EXPECT_EQ(y.front(), "0");
  EXPECT_GE(std::stod(y.back()), 14);

  bar_figure f = four_bars();
  f.bars[3].value = not_a_number;
  f.log_y = true;
  f.bars[1].value = 0;
  groups = series_groups(svg(f));
  EXPECT_NE(groups[3].find(">diverged</text>"), std::string::npos);
  EXPECT_EQ(count(groups[1], "<rect class=\"bar\""), 0u);
  EXPECT_EQ(count(groups[0], "<rect class=\"bar\""), 1u);
}

TEST(HistogramFigure, DrawsOneStepLinePerSeries) {
  histogram_figure f = two_histograms();
  std::string doc = svg(f);
  EXPECT_EQ(data_labels(doc),
            (std::vector<std::string>{"ssp s=2", xml_escape(nasty)}));
  auto groups = series_groups(doc);
  ASSERT_EQ(groups.size(), 2u);
  auto steps = polylines(groups[0], "step");
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].size(), 2 + 2 * 3u);
  EXPECT_EQ(steps[0].front().second, steps[0].back().second); // on y = 0
  EXPECT_EQ(doc.find("class=\"band\""), std::string::npos);
  auto y = tick_labels(doc, "y-axis");
  EXPECT_EQ(y.front(), "0");
  EXPECT_GE(std::stod(y.back()), 40);

  f.series[1].counts[1] = not_a_number;
  groups = series_groups(svg(f));
  EXPECT_EQ(polylines(groups[1], "step").size(), 2u);
}

namespace {

report sample_report() {
  report r;
  r.title = "Experiment " + nasty;
  r.facts = {{"commit", "abc123"}, {"host", "node<1>"}};
  r.notes = {"seed 3 & 4 diverged"};
  r.summary.header = {"cell", "accuracy", "time to 0.9"};
  r.summary.rows = {{"ps=1", "0.912", "12.5 s"},
                    {"ps=2", "0.905", "not reached"},
                    {"allreduce", "0.93", "6 s"}};
  r.figures = {{"Loss by step", svg(three_lines())},
               {"Time to target " + nasty, svg(four_bars())},
               {"Staleness", svg(two_histograms())}};
  return r;
}

} // namespace

TEST(Html, IsSelfContainedAndEscaped) {
  std::string page = html(sample_report());
  EXPECT_EQ(page.rfind("<!DOCTYPE html>\n", 0), 0u);
  EXPECT_NE(page.find("<h1>Experiment a&lt;b &amp; &quot;c&quot; "
                      "&apos;d&apos;&gt;</h1>"),
            std::string::npos);
  EXPECT_EQ(page.find(nasty), std::string::npos);
  EXPECT_NE(page.find("<td>node&lt;1&gt;</td>"), std::string::npos);
  EXPECT_NE(page.find("<li>seed 3 &amp; 4 diverged</li>"), std::string::npos);
  EXPECT_EQ(page.find("http:"), std::string::npos);
  EXPECT_EQ(page.find("https:"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("<?xml"), std::string::npos);
  EXPECT_EQ(page.find(" src="), std::string::npos);
  EXPECT_EQ(page.find("<link"), std::string::npos);
  EXPECT_EQ(count(page, "<svg "), 3u);
  EXPECT_EQ(count(page, "<figure>"), 3u);
  EXPECT_EQ(count(page, "class=\"series\""), 3u + 4u + 2u);
  EXPECT_NE(page.find("<figcaption>Time to target a&lt;b"), std::string::npos);
  EXPECT_LT(page.find("<table class=\"summary\">"), page.find("<svg "));
  EXPECT_NE(page.find("<tr><th>cell</th><th class=\"num\">accuracy</th>"
                      "<th class=\"num\">time to 0.9</th></tr>"),
            std::string::npos);
  EXPECT_NE(page.find("<tr><td>ps=2</td><td class=\"num\">0.905</td>"
                      "<td class=\"num\">not reached</td></tr>"),
            std::string::npos);
}

TEST(Html, IsWellFormedXml) {
  REQUIRE_XMLLINT();
  EXPECT_TRUE(well_formed(html(sample_report())));
  EXPECT_TRUE(well_formed(html(report{})));
}

TEST(Html, LeavesOutFiguresThatRunOrLoadAnything) {
  const std::string unsafe[] = {
      "<svg><script>alert(1)</script></svg>",
      "<svg><SCRIPT>alert(1)</SCRIPT></svg>",
      "<svg onload=\"alert(1)\"></svg>",
      "<svg><image xlink:href=\"x.png\"/></svg>",
      "<svg><rect style='fill: url(https://example.org/a)'/></svg>",
      "<svg><foreignObject><p>x</p></foreignObject></svg>"};
  for (const auto& figure : unsafe) {
    report r;
    r.figures = {{"bad", figure}};
    std::string page = html(r);
    EXPECT_EQ(page.find("<svg"), std::string::npos) << figure;
    EXPECT_NE(page.find("class=\"omitted\""), std::string::npos);
  }
  report r;
  r.figures = {{"fine", "<svg><text data-label=\"onload=x\">a onload=b "
                        "href</text><rect fill=\"url(#g)\"/></svg>"}};
  EXPECT_NE(html(r).find("<svg>"), std::string::npos);
}

TEST(PlainText, AlignsColumns) {
  text_table t;
  t.header = {"cell", "accuracy", "time"};
  t.rows = {{"a", "0.91", "12 s"}, {"long name", "0.9", "3 s"}};
  EXPECT_EQ(plain_text(t), "cell       accuracy  time\n"
                           "---------  --------  ----\n"
                           "a              0.91  12 s\n"
                           "long name       0.9   3 s\n");
}

TEST(PlainText, CountsCharactersNotBytesAndPadsShortRows) {
  text_table t;
  t.header = {"cell", "loss"};
  t.rows = {{"\xC3\xA9t\xC3\xA9", "0.5 \xC2\xB1 0.1", "extra"},
            {"b\tc"},
            {"d", "not reached"}};
  EXPECT_EQ(plain_text(t), "cell  loss\n"
                           "----  -----------  -----\n"
                           "\xC3\xA9t\xC3\xA9   0.5 \xC2\xB1 0.1    extra\n"
                           "b c\n"
                           "d     not reached\n");
  EXPECT_EQ(plain_text(text_table{}), "");
}

TEST(PngFromSvg, UsesRsvgConvertOnlyFromPath) {
  temp_dir dir;
  fs::create_directory(dir / "bin");
  write_file(dir / "figure.svg", svg(three_lines()));
  std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
  std::string note;
  ::setenv("PATH", (dir / "bin").c_str(), 1);
  EXPECT_EQ(png_from_svg((dir / "figure.svg").string(), note), "");
  EXPECT_NE(note.find("rsvg-convert is not installed"), std::string::npos);

  // A stand-in that writes its -o argument, then one that fails.
  write_file(dir / "bin/rsvg-convert", "#!/bin/sh\n[ \"$1\" = -o ] && "
                                       "[ -f \"$3\" ] && echo png > \"$2\"\n");
  fs::permissions(dir / "bin/rsvg-convert", fs::perms::owner_all);
  std::string png = png_from_svg((dir / "figure.svg").string(), note);
  EXPECT_EQ(png, (dir / "figure.png").string()) << note;
  EXPECT_TRUE(fs::exists(dir / "figure.png"));
  EXPECT_EQ(png_from_svg((dir / "absent.svg").string(), note), "");
  write_file(dir / "bin/rsvg-convert", "#!/bin/sh\nexit 3\n");
  fs::remove(dir / "figure.png");
  EXPECT_EQ(png_from_svg((dir / "figure.svg").string(), note), "");
  EXPECT_NE(note.find("exit status 3"), std::string::npos) << note;
  ::setenv("PATH", saved.c_str(), 1);
}

TEST(PngFromSvg, ConvertsWithTheRealProgram) {
  if (!on_path("rsvg-convert"))
    GTEST_SKIP() << "rsvg-convert is not installed";
  temp_dir dir;
  write_file(dir / "figure.svg", svg(four_bars()));
  std::string note;
  std::string png = png_from_svg((dir / "figure.svg").string(), note);
  ASSERT_EQ(png, (dir / "figure.png").string()) << note;
  std::ifstream in(png, std::ios::binary);
  std::string magic(8, '\0');
  in.read(magic.data(), 8);
  EXPECT_EQ(magic, "\x89PNG\r\n\x1A\n");
}

TEST(Html, RendersInHeadlessChromium) {
  if (!on_path("chromium"))
    GTEST_SKIP() << "chromium is not installed";
  temp_dir dir;
  write_file(dir / "report.html", html(sample_report()));
  fs::path shot = dir / "shot.png";
  auto r = run("timeout 150 chromium --headless --no-sandbox --disable-gpu "
               "--hide-scrollbars --user-data-dir='" +
               (dir / "profile").string() + "' --screenshot='" + shot.string() +
               "' --window-size=1200,2000 'file://" +
               (dir / "report.html").string() + "'");
  ASSERT_TRUE(fs::exists(shot)) << r.output;
  std::ifstream in(shot, std::ios::binary);
  std::string head(24, '\0');
  in.read(head.data(), 24);
  EXPECT_EQ(head.substr(0, 8), "\x89PNG\r\n\x1A\n");
  auto be32 = [&](std::size_t i) {
    return (unsigned(static_cast<unsigned char>(head[i])) << 24) |
           (unsigned(static_cast<unsigned char>(head[i + 1])) << 16) |
           (unsigned(static_cast<unsigned char>(head[i + 2])) << 8) |
           unsigned(static_cast<unsigned char>(head[i + 3]));
  };
  EXPECT_EQ(be32(16), 1200u);
  EXPECT_EQ(be32(20), 2000u);
  EXPECT_GT(fs::file_size(shot), 40000u);
}
