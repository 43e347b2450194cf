#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace metronome::launcher::experiment {

/// One line of a line plot: a mean curve with an optional band around it
/// (a confidence interval over seeds). `low` and `high` are empty when the
/// series has no band; otherwise all four vectors have the same length.
/// Points with a non-finite coordinate are skipped (the line is broken).
struct series {
  std::string label;
  std::vector<double> x;
  std::vector<double> mean;
  std::vector<double> low;
  std::vector<double> high;
};

/// A line plot of several series on shared axes.
struct line_figure {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool log_x = false;
  bool log_y = false; ///< non-positive values are skipped on a log axis
  std::vector<series> lines;
};

/// One bar with an interval (whiskers from `low` to `high`); a non-finite
/// value draws no bar and writes "not reached" (or `missing`) in its place.
struct bar {
  std::string label;
  double value = 0;
  double low = 0;
  double high = 0;
  std::string missing = "not reached";
};

/// A bar chart, one bar per cell.
struct bar_figure {
  std::string title;
  std::string y_label;
  bool log_y = false;
  std::vector<bar> bars;
};

/// A histogram per series drawn as steps on shared axes: `counts[i]` is the
/// count of values in [edges[i], edges[i + 1]), so edges has one more
/// element than counts.
struct histogram {
  std::string label;
  std::vector<double> edges;
  std::vector<double> counts;
};

/// Histograms of several series on shared axes.
struct histogram_figure {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<histogram> series;
};

/// A standalone SVG document (UTF-8, with the XML declaration) drawing
/// `figure`: axes with "nice" tick values, labels, a legend naming every
/// series, one colour per series; text is XML-escaped. Each series' group
/// carries class="series" and data-label="LABEL", so tests and scripts can
/// find it. An empty figure still gives a well-formed SVG saying "no data".
/// Inside a series group, a line figure draws its band as
/// <polygon class="band"> pieces under <polyline class="line"> pieces (an
/// isolated point as <circle class="point">), a histogram its steps as
/// <polyline class="step">, a bar chart <rect class="bar"> and
/// class="whisker" lines; bar charts name their bars under the axis instead
/// of in a legend. Long labels are wrapped or shortened with an ellipsis.
std::string svg(const line_figure& figure);
std::string svg(const bar_figure& figure);
std::string svg(const histogram_figure& figure);

/// Converts the SVG at `svg_path` to a PNG beside it with rsvg-convert
/// when that program is installed; returns the PNG path, or "" when it is
/// not installed or the conversion failed (`note` then says why).
std::string png_from_svg(const std::string& svg_path, std::string& note);

/// Tick values for an axis spanning [lo, hi]: on a linear axis the
/// multiples of one step (1, 2 or 5 × 10^k) from the last at or below `lo`
/// to the first at or above `hi`, about five intervals; on a log axis the
/// powers of ten bracketing the range (every n-th decade when there are
/// more than eight, plus 2 and 5 × 10^k when it spans at most two). A
/// single value gets a range around it. Returns nothing when lo or hi is
/// not finite, lo > hi, or, on a log axis, either is outside
/// [1e-300, 1e300] (so not positive).
std::vector<double> nice_ticks(double lo, double hi, bool log);

/// `value` with at most `digits` significant digits in the shorter of the
/// plain and exponent forms, with no exponent padding: "0.01", "2.5e-5",
/// "1e6", "0" (also for -0), "nan", "inf".
std::string compact_number(double value, int digits = 6);

/// `text` escaped for XML and HTML content and attribute values (&, <, >,
/// " and '); bytes that are not valid UTF-8, and characters XML forbids
/// (control characters other than tab and newlines), become U+FFFD.
std::string xml_escape(std::string_view text);

} // namespace metronome::launcher::experiment
