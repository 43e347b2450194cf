#include "algorithms/cutoff/dmm.hpp"

#include "algorithms/cutoff/dmm_net.hpp"
#include "algorithms/data/dataset.hpp"
#include "algorithms/data/input_file.hpp"
#include "algorithms/data/text.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>

// The versioned text file of a deep Markov model: save_dmm and load_dmm.

namespace metronome::algorithms {

namespace {

constexpr const char* magic = "metronome-dmm";
constexpr int format_version = 1;

Eigen::Index idx(std::size_t i) {
  return static_cast<Eigen::Index>(i);
}

// The longest line of a model file: a log_mean line of 2^16 workers.
constexpr std::size_t max_model_line = std::size_t{1} << 22;

class model_reader {
public:
  explicit model_reader(const std::string& path)
      : in_(path, max_model_line) {}

  load_error error(const std::string& what) const { return in_.error(what); }

  /// The next non-empty line (trimmed); throws at the end of the file.
  std::string_view next(const std::string& what) {
    std::string_view line;
    while (in_.next(line)) {
      std::string_view text = trim(line);
      if (!text.empty())
        return text;
    }
    throw load_error(fmt::format("{}: truncated file: it ends after line {} "
                                 "where {} was expected",
                                 in_.path(), in_.line_number(), what));
  }

  /// Reads "key v1 v2 ..." and returns the values' text.
  std::vector<std::string_view> field(const std::string& key) {
    std::string_view text = next(fmt::format("'{}'", key));
    std::vector<std::string_view> parts = split(text);
    if (parts.empty() || parts[0] != key)
      throw error(fmt::format("expected '{} ...', found '{}'", key,
                              quoted_excerpt(text)));
    parts.erase(parts.begin());
    return parts;
  }

  std::size_t size_field(const std::string& key) {
    std::vector<std::string_view> v = field(key);
    std::size_t out = 0;
    if (v.size() != 1 || !parse(v[0], out))
      throw error(fmt::format("'{}' needs one non-negative integer", key));
    return out;
  }

  Eigen::VectorXd vector_field(const std::string& key, std::size_t count) {
    std::vector<std::string_view> v = field(key);
    if (v.size() != count)
      throw error(
          fmt::format("'{}' has {} values, expected {}", key, v.size(), count));
    Eigen::VectorXd out(idx(count));
    for (std::size_t i = 0; i < count; ++i)
      out(idx(i)) = number(v[i], key);
    return out;
  }

  double number(std::string_view text, const std::string& what) {
    double v = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc() || ptr != end || !std::isfinite(v))
      throw error(fmt::format("bad number '{}' in {} (expected a finite "
                              "decimal)",
                              quoted_excerpt(text), what));
    return v;
  }

  /// True if only blank lines remain.
  bool at_end() {
    std::string_view line;
    while (in_.next(line))
      if (!trim(line).empty())
        return false;
    return true;
  }

private:
  static std::vector<std::string_view> split(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
        ++i;
      std::size_t j = i;
      while (j < s.size() && s[j] != ' ' && s[j] != '\t')
        ++j;
      if (j > i)
        out.push_back(s.substr(i, j - i));
      i = j;
    }
    return out;
  }

  static bool parse(std::string_view text, std::size_t& out) {
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, out);
    return ec == std::errc() && ptr == end;
  }

  line_reader in_;
};

} // namespace

void save_dmm(const dmm& m, const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw std::runtime_error(
        fmt::format("{}: cannot write model: it is a directory", path));
  std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out)
      throw std::runtime_error(fmt::format("{}: cannot write model: {}", path,
                                           std::strerror(errno)));
    const dmm_spec& s = m.spec();
    std::string text = fmt::format(
        "{}\nversion {}\nworkers {}\nlatent {}\ntransition_hidden {}\n"
        "emission_hidden {}\nrnn_hidden {}\nlag {}\n",
        magic, format_version, s.workers, s.latent, s.transition_hidden,
        s.emission_hidden, s.rnn_hidden, s.lag);
    auto write_vector = [&text](const char* key, const Eigen::VectorXd& v) {
      text += key;
      for (Eigen::Index i = 0; i < v.size(); ++i)
        text += fmt::format(" {}", v(i));
      text += '\n';
    };
    write_vector("log_mean", m.log_mean());
    write_vector("log_std", m.log_std());
    text += fmt::format("parameters {}\n", m.num_parameters());
    for (Eigen::Index i = 0; i < m.parameters().size(); ++i)
      text += fmt::format("{}\n", m.parameters()(i));
    text += "end\n";
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out)
      throw std::runtime_error(fmt::format("{}: cannot write model: {}", path,
                                           std::strerror(errno)));
  }
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::string why = ec.message();
    std::filesystem::remove(temp, ec);
    throw std::runtime_error(
        fmt::format("{}: cannot write model: {}", path, why));
  }
}

dmm load_dmm(const std::string& path) {
  std::uint64_t file_bytes = regular_file_size(path);
  model_reader r(path);
  std::string_view first = r.next("the magic line");
  if (first != magic)
    throw r.error(fmt::format("not a metronome DMM model file (the first "
                              "line is '{}', expected '{}')",
                              quoted_excerpt(first), magic));
  std::size_t version = r.size_field("version");
  if (version != format_version)
    throw r.error(fmt::format("unsupported format version {} (this build "
                              "reads version {})",
                              version, format_version));
  dmm_spec spec;
  spec.workers = r.size_field("workers");
  spec.latent = r.size_field("latent");
  spec.transition_hidden = r.size_field("transition_hidden");
  spec.emission_hidden = r.size_field("emission_hidden");
  spec.rnn_hidden = r.size_field("rnn_hidden");
  spec.lag = r.size_field("lag");
  constexpr std::size_t max_dimension = 1 << 16;
  for (std::size_t v : {spec.workers, spec.latent, spec.transition_hidden,
                        spec.emission_hidden, spec.rnn_hidden, spec.lag})
    if (v == 0 || v > max_dimension)
      throw r.error(fmt::format("bad spec: every size must be in [1, {}]",
                                max_dimension));
  auto expected = static_cast<std::size_t>(dmm_net::parameter_count(spec));
  if (expected > dmm_max_parameters)
    throw r.error(fmt::format("the spec needs {} parameters, more than the "
                              "limit of {} (see docs/input-limits.md)",
                              expected, dmm_max_parameters));
  Eigen::VectorXd mean = r.vector_field("log_mean", spec.workers);
  Eigen::VectorXd std = r.vector_field("log_std", spec.workers);
  if (!(std.array() > 0).all())
    throw r.error("log_std must be positive");
  std::size_t count = r.size_field("parameters");
  if (count != expected)
    throw r.error(fmt::format("{} parameters declared, the spec needs {}",
                              count, expected));
  // Every parameter takes a line of at least two bytes.
  if (count > file_bytes / 2)
    throw r.error(fmt::format("{} parameters declared, but the {}-byte file "
                              "holds at most {} (it is truncated)",
                              count, file_bytes, file_bytes / 2));
  Eigen::VectorXd params(idx(count));
  for (std::size_t i = 0; i < count; ++i) {
    std::string_view text = r.next(fmt::format(
        "parameter {} of {} (the file is truncated)", i + 1, count));
    params(idx(i)) = r.number(text, fmt::format("parameter {}", i + 1));
  }
  std::string_view end = r.next("the 'end' marker");
  if (end != "end")
    throw r.error(fmt::format("expected 'end' after {} parameters, found "
                              "'{}'",
                              count, quoted_excerpt(end)));
  if (!r.at_end())
    throw r.error("unexpected content after 'end'");
  dmm m(spec, 0);
  m.set_normalisation(mean, std);
  m.set_parameters(params);
  return m;
}

} // namespace metronome::algorithms
