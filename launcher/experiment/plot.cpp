#include "launcher/experiment/plot.hpp"
#include "launcher/experiment/plot_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iterator>
#include <limits>

namespace metronome::launcher::experiment {

namespace {

using plot_text::columns;
using plot_text::shorten;
using plot_text::wrap;

// Okabe and Ito's colour-blind-safe palette; yellow last as it is faint on
// white.
constexpr const char* palette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                   "#E69F00", "#56B4E9", "#000000", "#F0E442"};
constexpr std::size_t palette_size = std::size(palette);

// Text widths are estimated, generously, as there is no font metric here.
constexpr double char_px = 7.8;      // one glyph of 13px text
constexpr double tick_char_px = 7.2; // one glyph of 12px text
constexpr double plot_w = 560;
constexpr double plot_h = 320;
constexpr std::size_t legend_columns = 34;
constexpr std::size_t legend_lines = 2;
constexpr double line_px = 15;
constexpr double inf = std::numeric_limits<double>::infinity();

const char* colour(std::size_t i) {
  return palette[i % palette_size];
}

// Series beyond the palette repeat its colours with a dash pattern.
std::string dash_attribute(std::size_t i) {
  switch (i / palette_size % 3) {
  case 1:
    return " stroke-dasharray=\"7 4\"";
  case 2:
    return " stroke-dasharray=\"2 3\"";
  default:
    return "";
  }
}

// ---- numbers and axes ------------------------------------------------------

double pow10(int k) {
  double p = 1;
  for (int i = 0; i < std::min(std::abs(k), 400); ++i)
    p *= 10;
  return k < 0 ? 1 / p : p;
}

// m × 10^k, exact whenever the result is representable.
double scaled(double m, int k) {
  return k >= 0 ? m * pow10(k) : m / pow10(-k);
}

std::vector<double> linear_ticks(double lo, double hi) {
  if (lo == hi) {
    double d = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= d;
    hi += d;
  }
  double raw = hi / 6 - lo / 6;
  if (!std::isnormal(raw))
    return {lo, hi};
  int k = static_cast<int>(std::floor(std::log10(raw)));
  double m = raw / pow10(k), eps = 1e-9;
  int f = m <= 1 + eps ? 1 : m <= 2 + eps ? 2 : m <= 5 + eps ? 5 : 10;
  double step = scaled(f, k);
  auto tick = [&](double i) { return scaled(i * f, k); };
  double first = std::floor(lo / step + eps), last = std::ceil(hi / step - eps);
  if (tick(first) > lo)
    first -= 1;
  if (tick(last) < hi)
    last += 1;
  std::vector<double> ticks;
  for (double i = first; i <= last && ticks.size() < 100; i += 1)
    ticks.push_back(tick(i));
  if (!std::isfinite(ticks.front()) || !std::isfinite(ticks.back()))
    return {lo, hi};
  return ticks;
}

std::vector<double> log_ticks(double lo, double hi) {
  int a = static_cast<int>(std::floor(std::log10(lo)));
  int b = static_cast<int>(std::ceil(std::log10(hi)));
  if (pow10(a + 1) <= lo)
    ++a;
  if (pow10(a) > lo)
    --a;
  if (pow10(b - 1) >= hi)
    --b;
  if (pow10(b) < hi)
    ++b;
  b = std::max(b, a + 1);
  int stride = (b - a + 7) / 8;
  a = static_cast<int>(std::floor(a / double(stride))) * stride;
  b = a + (b - a + stride - 1) / stride * stride;
  std::vector<double> ticks;
  for (int k = a; k <= b; k += stride) {
    ticks.push_back(pow10(k));
    if (b - a <= 2 && k < b) {
      ticks.push_back(scaled(2, k));
      ticks.push_back(scaled(5, k));
    }
  }
  return ticks;
}

// Log axes also skip values so extreme that their decades overflow.
bool fits(double v, bool log) {
  return std::isfinite(v) && (!log || (v >= 1e-300 && v <= 1e300));
}

// The range of the values an axis shows.
struct extent {
  bool log = false;
  double lo = inf;
  double hi = -inf;

  void add(double v) {
    if (fits(v, log)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  bool empty() const { return lo > hi; }
};

struct axis {
  std::vector<double> ticks;
  bool log = false;
  double from = 0; ///< pixel of the first tick
  double to = 1;   ///< pixel of the last tick

  // Halved so that differences of huge values do not overflow.
  double at(double v) const {
    auto f = [this](double u) { return (log ? std::log10(u) : u) / 2; };
    double a = f(ticks.front()), b = f(ticks.back());
    return from + (f(v) - a) / (b - a) * (to - from);
  }
};

axis make_axis(const extent& e) {
  if (e.empty())
    return {{}, e.log};
  return {nice_ticks(e.lo, e.hi, e.log), e.log};
}

// `v` in exponent form with no padding: "5e5", "1.5e6".
std::string exponent_form(double v) {
  std::string s = fmt::format("{:.5e}", v);
  auto e = s.find('e');
  std::string mantissa = s.substr(0, e);
  mantissa.erase(mantissa.find_last_not_of('0') + 1);
  if (mantissa.back() == '.')
    mantissa.pop_back();
  return fmt::format("{}e{}", mantissa, std::stoi(s.substr(e + 1)));
}

// Labels for the ticks of `a`; on a linear axis all of them are in
// exponent form when one needs it, so that they read alike.
std::vector<std::string> tick_labels(const axis& a) {
  std::vector<std::string> labels;
  bool exponent = false;
  for (double t : a.ticks) {
    labels.push_back(compact_number(t));
    exponent = exponent || labels.back().find('e') != std::string::npos;
  }
  for (std::size_t i = 0; exponent && !a.log && i < labels.size(); ++i)
    if (a.ticks[i] != 0)
      labels[i] = exponent_form(a.ticks[i]);
  return labels;
}

// Unlabelled ticks at 2..9 × 10^k between the decades of a log axis.
std::vector<double> minor_ticks(const axis& a) {
  std::vector<double> out;
  if (!a.log || a.ticks.size() < 2 || a.ticks[1] != 10 * a.ticks[0])
    return out;
  for (double d = a.ticks.front(); d < a.ticks.back(); d *= 10)
    for (int m = 2; m <= 9; ++m)
      out.push_back(d * m);
  return out;
}

} // namespace

std::vector<double> nice_ticks(double lo, double hi, bool log) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi ||
      (log && !(fits(lo, true) && fits(hi, true))))
    return {};
  return log ? log_ticks(lo, hi) : linear_ticks(lo, hi);
}

namespace {

// ---- drawing ---------------------------------------------------------------

// The whole image and, inside it, the plot area.
struct frame {
  double width = 0;
  double height = 0;
  double left = 0;
  double top = 0;
  double right = 0;
  double bottom = 0;
};

auto sink(std::string& out) {
  return std::back_inserter(out);
}

void text(std::string& out, double x, double y, std::string_view s,
          std::string_view attributes) {
  fmt::format_to(sink(out), "<text x=\"{:.1f}\" y=\"{:.1f}\"{}>{}</text>\n", x,
                 y, attributes, xml_escape(s));
}

void line(std::string& out, double x1, double y1, double x2, double y2,
          std::string_view attributes) {
  fmt::format_to(sink(out),
                 "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" "
                 "y2=\"{:.1f}\"{}/>\n",
                 x1, y1, x2, y2, attributes);
}

void point(std::string& out, double x, double y) {
  fmt::format_to(sink(out), "{}{:.1f},{:.1f}", out.empty() ? "" : " ", x, y);
}

void open_svg(std::string& out, const frame& fr, const std::string& title) {
  fmt::format_to(sink(out),
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0:.0f}\" "
                 "height=\"{1:.0f}\" viewBox=\"0 0 {0:.0f} {1:.0f}\" "
                 "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
                 "font-size=\"13\" fill=\"#222222\" role=\"img\">\n"
                 "<title>{2}</title>\n"
                 "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n",
                 fr.width, fr.height, xml_escape(title));
  auto fit = static_cast<std::size_t>((fr.width - 24) / 10);
  text(out, fr.width / 2, 26, shorten(title, fit),
       " class=\"title\" text-anchor=\"middle\" font-size=\"16\" "
       "font-weight=\"bold\"");
}

void close_svg(std::string& out, const frame& fr) {
  fmt::format_to(sink(out),
                 "<rect class=\"frame\" x=\"{:.1f}\" y=\"{:.1f}\" "
                 "width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" "
                 "stroke=\"#444444\"/>\n",
                 fr.left, fr.top, fr.right - fr.left, fr.bottom - fr.top);
}

void no_data(std::string& out, const frame& fr) {
  text(out, (fr.left + fr.right) / 2, (fr.top + fr.bottom) / 2, "no data",
       " class=\"no-data\" text-anchor=\"middle\" font-size=\"16\" "
       "fill=\"#777777\"");
}

constexpr const char* grid = " stroke=\"#e6e6e6\"";
constexpr const char* mark = " stroke=\"#444444\"";
constexpr const char* tick_text = " class=\"tick\" font-size=\"12\"";

void y_axis(std::string& out, const frame& fr, const axis& ay,
            const std::string& label) {
  out += "<g class=\"axis y-axis\">\n";
  for (double t : minor_ticks(ay))
    line(out, fr.left - 3, ay.at(t), fr.left, ay.at(t), mark);
  auto labels = tick_labels(ay);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    double y = ay.at(ay.ticks[i]);
    line(out, fr.left, y, fr.right, y, grid);
    line(out, fr.left - 5, y, fr.left, y, mark);
    text(out, fr.left - 8, y + 4, labels[i],
         std::string(tick_text) + " text-anchor=\"end\"");
  }
  auto fit = static_cast<std::size_t>((fr.bottom - fr.top) / char_px);
  text(out, 0, 0, shorten(label, fit),
       fmt::format(" class=\"axis-label\" text-anchor=\"middle\" "
                   "transform=\"translate(18,{:.1f}) rotate(-90)\"",
                   (fr.top + fr.bottom) / 2));
  out += "</g>\n";
}

void x_axis(std::string& out, const frame& fr, const axis& ax,
            const std::string& label) {
  out += "<g class=\"axis x-axis\">\n";
  for (double t : minor_ticks(ax))
    line(out, ax.at(t), fr.bottom, ax.at(t), fr.bottom + 3, mark);
  auto labels = tick_labels(ax);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    double x = ax.at(ax.ticks[i]);
    line(out, x, fr.top, x, fr.bottom, grid);
    line(out, x, fr.bottom, x, fr.bottom + 5, mark);
    text(out, x, fr.bottom + 18, labels[i],
         std::string(tick_text) + " text-anchor=\"middle\"");
  }
  auto fit = static_cast<std::size_t>((fr.right - fr.left) / char_px);
  text(out, (fr.left + fr.right) / 2, fr.bottom + 40, shorten(label, fit),
       " class=\"axis-label\" text-anchor=\"middle\"");
  out += "</g>\n";
}

struct legend_entry {
  std::string label;
  bool band = false;
  std::vector<std::string> lines; ///< the label wrapped for the legend
};

legend_entry make_entry(const std::string& label, bool band) {
  return {label, band, wrap(label, legend_columns, legend_lines)};
}

double entry_height(const legend_entry& e) {
  return 5 + line_px * std::max<std::size_t>(e.lines.size(), 1);
}

void legend(std::string& out, const frame& fr,
            const std::vector<legend_entry>& entries) {
  if (entries.empty())
    return;
  out += "<g class=\"legend\">\n";
  double x = fr.right + 16, y = fr.top + 10;
  for (std::size_t i = 0; i < entries.size(); y += entry_height(entries[i++])) {
    fmt::format_to(sink(out), "<g class=\"legend-entry\"><title>{}</title>\n",
                   xml_escape(entries[i].label));
    if (entries[i].band)
      fmt::format_to(sink(out),
                     "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"24\" "
                     "height=\"12\" fill=\"{}\" fill-opacity=\"0.2\"/>\n",
                     x, y - 6, colour(i));
    line(out, x, y, x + 24, y,
         fmt::format(" stroke=\"{}\" stroke-width=\"2\"{}", colour(i),
                     dash_attribute(i)));
    for (std::size_t k = 0; k < entries[i].lines.size(); ++k)
      text(out, x + 30, y + 4 + k * line_px, entries[i].lines[k], "");
    out += "</g>\n";
  }
  out += "</g>\n";
}

// The frame of a chart with a legend on its right.
frame chart_frame(const axis& ay, const std::vector<legend_entry>& entries) {
  std::size_t tick_columns = 0, label_columns = 0;
  for (const auto& label : tick_labels(ay))
    tick_columns = std::max(tick_columns, columns(label));
  double legend_h = 16;
  for (const auto& e : entries) {
    for (const auto& l : e.lines)
      label_columns = std::max(label_columns, columns(l));
    legend_h += entry_height(e);
  }
  frame fr;
  fr.left = 38 + tick_columns * tick_char_px;
  fr.top = 44;
  fr.right = fr.left + plot_w;
  fr.bottom = fr.top + plot_h;
  double legend_w = entries.empty() ? 24 : 16 + 30 + label_columns * char_px;
  fr.width = std::ceil(fr.right + std::max(legend_w + 12, 24.0));
  fr.height = std::ceil(std::max(fr.bottom + 56, fr.top + legend_h));
  return fr;
}

void open_series(std::string& out, const std::string& label) {
  fmt::format_to(sink(out), "<g class=\"series\" data-label=\"{}\">\n",
                 xml_escape(label));
}

// Index runs [begin, end) of consecutive i < n for which ok(i) holds.
template <class Ok>
std::vector<std::pair<std::size_t, std::size_t>> runs(std::size_t n, Ok ok) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  for (std::size_t i = 0; i < n; ++i) {
    if (!ok(i))
      continue;
    if (out.empty() || out.back().second != i)
      out.emplace_back(i, i + 1);
    else
      out.back().second = i + 1;
  }
  return out;
}

// ---- line figures ----------------------------------------------------------

bool has_band(const series& s) {
  return !s.low.empty() && s.low.size() == s.x.size() &&
         s.high.size() == s.x.size();
}

std::size_t mean_points(const series& s) {
  return std::min(s.x.size(), s.mean.size());
}

std::pair<extent, extent> line_extents(const line_figure& f) {
  extent ex, ey;
  ex.log = f.log_x;
  ey.log = f.log_y;
  for (const auto& s : f.lines) {
    for (std::size_t i = 0; i < mean_points(s); ++i)
      if (fits(s.x[i], f.log_x) && fits(s.mean[i], f.log_y)) {
        ex.add(s.x[i]);
        ey.add(s.mean[i]);
      }
    for (std::size_t i = 0; has_band(s) && i < s.x.size(); ++i)
      if (fits(s.x[i], f.log_x) && fits(s.low[i], f.log_y) &&
          fits(s.high[i], f.log_y)) {
        ex.add(s.x[i]);
        ey.add(s.low[i]);
        ey.add(s.high[i]);
      }
  }
  return {ex, ey};
}

void draw_band(std::string& out, const series& s, std::size_t index,
               const axis& ax, const axis& ay) {
  auto ok = [&](std::size_t i) {
    return fits(s.x[i], ax.log) && fits(s.low[i], ay.log) &&
           fits(s.high[i], ay.log);
  };
  for (auto [begin, end] : runs(s.x.size(), ok)) {
    std::string points;
    for (std::size_t i = begin; i < end; ++i)
      point(points, ax.at(s.x[i]), ay.at(s.high[i]));
    for (std::size_t i = end; i-- > begin;)
      point(points, ax.at(s.x[i]), ay.at(s.low[i]));
    fmt::format_to(sink(out),
                   "<polygon class=\"band\" points=\"{}\" fill=\"{}\" "
                   "fill-opacity=\"0.2\" stroke=\"none\"/>\n",
                   points, colour(index));
  }
}

void draw_mean(std::string& out, const series& s, std::size_t index,
               const axis& ax, const axis& ay) {
  auto ok = [&](std::size_t i) {
    return fits(s.x[i], ax.log) && fits(s.mean[i], ay.log);
  };
  for (auto [begin, end] : runs(mean_points(s), ok)) {
    if (end - begin == 1) {
      fmt::format_to(sink(out),
                     "<circle class=\"point\" cx=\"{:.1f}\" cy=\"{:.1f}\" "
                     "r=\"3\" fill=\"{}\"/>\n",
                     ax.at(s.x[begin]), ay.at(s.mean[begin]), colour(index));
      continue;
    }
    std::string points;
    for (std::size_t i = begin; i < end; ++i)
      point(points, ax.at(s.x[i]), ay.at(s.mean[i]));
    fmt::format_to(sink(out),
                   "<polyline class=\"line\" points=\"{}\" fill=\"none\" "
                   "stroke=\"{}\" stroke-width=\"2\" "
                   "stroke-linejoin=\"round\"{}/>\n",
                   points, colour(index), dash_attribute(index));
  }
}

// ---- histograms ------------------------------------------------------------

std::size_t bins(const histogram& h) {
  return h.edges.empty() ? 0 : std::min(h.counts.size(), h.edges.size() - 1);
}

bool bin_ok(const histogram& h, std::size_t i) {
  return std::isfinite(h.edges[i]) && std::isfinite(h.edges[i + 1]) &&
         std::isfinite(h.counts[i]);
}

std::pair<extent, extent> histogram_extents(const histogram_figure& f) {
  extent ex, ey;
  for (const auto& h : f.series)
    for (std::size_t i = 0; i < bins(h); ++i)
      if (bin_ok(h, i)) {
        ex.add(h.edges[i]);
        ex.add(h.edges[i + 1]);
        ey.add(h.counts[i]);
        ey.add(0);
      }
  return {ex, ey};
}

void draw_steps(std::string& out, const histogram& h, std::size_t index,
                const axis& ax, const axis& ay) {
  auto ok = [&](std::size_t i) { return bin_ok(h, i); };
  for (auto [begin, end] : runs(bins(h), ok)) {
    std::string points;
    point(points, ax.at(h.edges[begin]), ay.at(0));
    for (std::size_t i = begin; i < end; ++i) {
      point(points, ax.at(h.edges[i]), ay.at(h.counts[i]));
      point(points, ax.at(h.edges[i + 1]), ay.at(h.counts[i]));
    }
    point(points, ax.at(h.edges[end]), ay.at(0));
    fmt::format_to(sink(out),
                   "<polygon class=\"fill\" points=\"{0}\" fill=\"{1}\" "
                   "fill-opacity=\"0.12\" stroke=\"none\"/>\n"
                   "<polyline class=\"step\" points=\"{0}\" fill=\"none\" "
                   "stroke=\"{1}\" stroke-width=\"1.8\"{2}/>\n",
                   points, colour(index), dash_attribute(index));
  }
}

// ---- bar charts ------------------------------------------------------------

constexpr std::size_t category_lines = 3;

struct bar_layout {
  frame fr;
  double slot = 0; ///< the width given to each bar
  std::vector<std::vector<std::string>> labels;
};

bool whisker_ok(const bar& b, bool log) {
  return fits(b.low, log) && fits(b.high, log);
}

extent bar_extent(const bar_figure& f) {
  extent e;
  e.log = f.log_y;
  for (const auto& b : f.bars) {
    if (!fits(b.value, f.log_y))
      continue;
    e.add(b.value);
    if (whisker_ok(b, f.log_y)) {
      e.add(b.low);
      e.add(b.high);
    }
  }
  // Headroom for the value written above the highest bar.
  double span = std::max(e.hi, 0.0) - std::min(e.lo, 0.0);
  if (!e.empty() && f.log_y)
    e.add(e.hi * 1.6);
  if (!e.empty() && !f.log_y && e.hi > 0)
    e.add(e.hi + 0.1 * span);
  if (!e.empty() && !f.log_y && e.lo < 0)
    e.add(e.lo - 0.1 * span);
  if (!e.empty() && !f.log_y)
    e.add(0);
  if (e.empty() && !f.bars.empty()) {
    e.add(f.log_y ? 1 : 0);
    e.add(f.log_y ? 10 : 1);
  }
  return e;
}

bar_layout make_bar_layout(const bar_figure& f, const axis& ay) {
  std::size_t widest = 0, tick_columns = 0;
  for (const auto& b : f.bars)
    widest = std::max(widest, std::min<std::size_t>(columns(b.label), 40));
  for (const auto& label : tick_labels(ay))
    tick_columns = std::max(tick_columns, columns(label));
  double n = std::max<double>(f.bars.size(), 1);
  double slot = std::clamp(widest * tick_char_px / 2 + 16, 72.0, 160.0);
  bar_layout lay;
  lay.slot = std::clamp(n * slot, 480.0, 860.0) / n;
  auto fit = static_cast<std::size_t>((lay.slot - 6) / tick_char_px);
  std::size_t lines = 1;
  for (const auto& b : f.bars) {
    lay.labels.push_back(wrap(b.label, fit, category_lines));
    lines = std::max(lines, lay.labels.back().size());
  }
  frame& fr = lay.fr;
  fr.left = 38 + tick_columns * tick_char_px;
  fr.top = 44;
  fr.right = fr.left + n * lay.slot;
  fr.bottom = fr.top + plot_h;
  fr.width = std::ceil(fr.right + 24);
  fr.height = std::ceil(fr.bottom + 20 + lines * 15);
  return lay;
}

void text_lines(std::string& out, double x, double y,
                const std::vector<std::string>& lines,
                std::string_view attributes) {
  for (std::size_t k = 0; k < lines.size(); ++k)
    text(out, x, y + k * 15, lines[k], attributes);
}

void draw_whisker(std::string& out, const bar& b, double cx, double half,
                  const axis& ay) {
  double lo = ay.at(b.low), hi = ay.at(b.high);
  const char* style = " class=\"whisker\" stroke=\"#222222\" "
                      "stroke-width=\"1.5\"";
  line(out, cx, lo, cx, hi, style);
  line(out, cx - half, lo, cx + half, lo, style);
  line(out, cx - half, hi, cx + half, hi, style);
}

void draw_value(std::string& out, const bar& b, std::size_t i, double cx,
                const bar_layout& lay, const axis& ay) {
  double y0 = ay.at(ay.log ? ay.ticks.front() : 0), y1 = ay.at(b.value);
  double w = std::min(56.0, lay.slot * 0.6);
  fmt::format_to(sink(out),
                 "<rect class=\"bar\" x=\"{:.1f}\" y=\"{:.1f}\" "
                 "width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\" "
                 "fill-opacity=\"0.85\"/>\n",
                 cx - w / 2, std::min(y0, y1), w, std::abs(y1 - y0), colour(i));
  double top = std::min(y0, y1), bottom = std::max(y0, y1);
  if (whisker_ok(b, ay.log)) {
    draw_whisker(out, b, cx, w / 4, ay);
    top = std::min({top, ay.at(b.low), ay.at(b.high)});
    bottom = std::max({bottom, ay.at(b.low), ay.at(b.high)});
  }
  bool below = !ay.log && b.value < 0;
  text(out, cx, below ? bottom + 16 : top - 6, compact_number(b.value, 4),
       " class=\"value\" text-anchor=\"middle\" font-size=\"12\"");
}

void draw_bar(std::string& out, const bar& b, std::size_t i,
              const bar_layout& lay, const axis& ay) {
  const frame& fr = lay.fr;
  double cx = fr.left + (i + 0.5) * lay.slot;
  open_series(out, b.label);
  if (fits(b.value, ay.log)) {
    draw_value(out, b, i, cx, lay, ay);
  } else {
    std::string why = std::isfinite(b.value)
                          ? compact_number(b.value, 4) + ": off the log axis"
                          : b.missing;
    auto fit = static_cast<std::size_t>((lay.slot - 6) / tick_char_px);
    text_lines(out, cx, fr.bottom - 40, wrap(why, fit, category_lines),
               " class=\"missing\" text-anchor=\"middle\" font-size=\"12\" "
               "font-style=\"italic\" fill=\"#666666\"");
  }
  text_lines(out, cx, fr.bottom + 18, lay.labels[i],
             " class=\"category\" text-anchor=\"middle\" font-size=\"12\"");
  out += "</g>\n";
}

// Opens the SVG of a chart with two axes and a legend: sizes the frame,
// maps both axes onto it and draws them.
frame open_chart(std::string& out, const std::string& title,
                 const std::string& x_label, const std::string& y_label,
                 const std::vector<legend_entry>& entries, axis& ax, axis& ay) {
  frame fr = chart_frame(ay, entries);
  ax.from = fr.left;
  ax.to = fr.right;
  ay.from = fr.bottom;
  ay.to = fr.top;
  open_svg(out, fr, title);
  x_axis(out, fr, ax, x_label);
  y_axis(out, fr, ay, y_label);
  return fr;
}

} // namespace

std::string svg(const line_figure& figure) {
  auto [ex, ey] = line_extents(figure);
  bool empty = ex.empty() || ey.empty();
  axis ax = make_axis(empty ? extent{} : ex);
  axis ay = make_axis(empty ? extent{} : ey);
  std::vector<legend_entry> entries;
  for (const auto& s : figure.lines)
    entries.push_back(make_entry(s.label, has_band(s)));
  std::string out;
  frame fr = open_chart(out, figure.title, figure.x_label, figure.y_label,
                        entries, ax, ay);
  if (empty)
    no_data(out, fr);
  for (std::size_t i = 0; i < figure.lines.size(); ++i) {
    open_series(out, figure.lines[i].label);
    if (!empty && has_band(figure.lines[i]))
      draw_band(out, figure.lines[i], i, ax, ay);
    if (!empty)
      draw_mean(out, figure.lines[i], i, ax, ay);
    out += "</g>\n";
  }
  close_svg(out, fr);
  legend(out, fr, entries);
  return out + "</svg>\n";
}

std::string svg(const bar_figure& figure) {
  axis ay = make_axis(bar_extent(figure));
  bar_layout lay = make_bar_layout(figure, ay);
  const frame& fr = lay.fr;
  ay.from = fr.bottom;
  ay.to = fr.top;
  std::string out;
  open_svg(out, fr, figure.title);
  y_axis(out, fr, ay, figure.y_label);
  if (figure.bars.empty())
    no_data(out, fr);
  for (std::size_t i = 0; i < figure.bars.size(); ++i)
    draw_bar(out, figure.bars[i], i, lay, ay);
  close_svg(out, fr);
  return out + "</svg>\n";
}

std::string svg(const histogram_figure& figure) {
  auto [ex, ey] = histogram_extents(figure);
  bool empty = ex.empty();
  axis ax = make_axis(ex);
  axis ay = make_axis(ey);
  std::vector<legend_entry> entries;
  for (const auto& h : figure.series)
    entries.push_back(make_entry(h.label, false));
  std::string out;
  frame fr = open_chart(out, figure.title, figure.x_label, figure.y_label,
                        entries, ax, ay);
  if (empty)
    no_data(out, fr);
  for (std::size_t i = 0; i < figure.series.size(); ++i) {
    open_series(out, figure.series[i].label);
    if (!empty)
      draw_steps(out, figure.series[i], i, ax, ay);
    out += "</g>\n";
  }
  close_svg(out, fr);
  legend(out, fr, entries);
  return out + "</svg>\n";
}

} // namespace metronome::launcher::experiment
