#include "tools/data/generate.hpp"

#include "algorithms/data/docword_loader.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <stdexcept>
#include <system_error>

namespace metronome::tools {

int run_lasso_data(const lasso_data_options& o) {
  try {
    std::vector<double> truth;
    auto d = algorithms::lasso::generate(o.spec, truth);
    algorithms::lasso::write_libsvm(d, o.out);
    auto truth_path = o.out + ".truth";
    std::ofstream t(truth_path);
    for (double b : truth)
      t << fmt::format("{:.17g}\n", b);
    t.close();
    if (!t)
      throw std::runtime_error("cannot write " + truth_path);
    fmt::print("{{\"data\":\"{}\",\"truth\":\"{}\",\"samples\":{},"
               "\"features\":{},\"stored\":{}}}\n",
               o.out, truth_path, d.samples(), d.features(), d.x.nonZeros());
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "data lasso: {}\n", e.what());
    return 2;
  }
}

namespace {

// Refuses a path whose directory is missing or not writable, or that is a
// directory, before minutes of generation are spent.
void check_output_path(const std::string& path) {
  if (path.empty())
    throw std::invalid_argument("an output path is empty");
  std::filesystem::path p(path);
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec))
    throw std::invalid_argument(path + ": is a directory");
  auto dir =
      p.parent_path().empty() ? std::filesystem::path(".") : p.parent_path();
  if (!std::filesystem::is_directory(dir, ec))
    throw std::invalid_argument(path + ": directory " + dir.string() +
                                " does not exist");
  if (access(dir.c_str(), W_OK) != 0)
    throw std::invalid_argument(path + ": directory " + dir.string() +
                                " is not writable");
}

void check_lda_options(const lda_data_options& o, const std::string& topics) {
  for (const auto& p : {o.docword, o.vocab, topics})
    check_output_path(p);
  if (o.docword == o.vocab || o.docword == topics || o.vocab == topics)
    throw std::invalid_argument(
        "the docword, vocab and topics paths must differ");
  if (o.spec.vocabulary > 0 &&
      o.spec.topics > lda_data_max_topic_entries / o.spec.vocabulary)
    throw std::invalid_argument(
        fmt::format("topics x vocabulary = {} x {} exceeds {}", o.spec.topics,
                    o.spec.vocabulary, lda_data_max_topic_entries));
}

void write_topics(const std::vector<std::vector<double>>& topics,
                  const std::vector<std::string>& vocabulary,
                  const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::vector<std::size_t> order;
  for (std::size_t k = 0; k < topics.size(); ++k) {
    const auto& p = topics[k];
    order.resize(p.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    auto top = std::min<std::size_t>(20, order.size());
    std::partial_sort(order.begin(),
                      order.begin() + static_cast<std::ptrdiff_t>(top),
                      order.end(), [&](std::size_t a, std::size_t b) {
                        return p[a] > p[b] || (p[a] == p[b] && a < b);
                      });
    out << k;
    for (std::size_t i = 0; i < top; ++i)
      out << fmt::format(" {}:{:.6g}", vocabulary[order[i]], p[order[i]]);
    out << '\n';
  }
  out.close();
  if (!out)
    throw std::runtime_error("cannot write " + path);
}

} // namespace

int run_lda_data(const lda_data_options& o) {
  try {
    auto topics_path = o.topics.empty() ? o.docword + ".topics" : o.topics;
    check_lda_options(o, topics_path);
    std::vector<std::vector<double>> topics;
    auto c = algorithms::lda::generate(o.spec, topics);
    algorithms::write_docword(c, o.docword, o.vocab);
    write_topics(topics, c.vocabulary, topics_path);
    nlohmann::json summary = {
        {"docword", o.docword},         {"vocab", o.vocab},
        {"topics", topics_path},        {"documents", c.documents()},
        {"words", c.vocabulary.size()}, {"tokens", c.tokens()}};
    fmt::print("{}\n", summary.dump());
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "data lda: {}\n", e.what());
    return 2;
  }
}

} // namespace metronome::tools
