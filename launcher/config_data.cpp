#include "launcher/config_reader.hpp"

#include "algorithms/data/idx_loader.hpp"
#include "algorithms/data/libsvm_loader.hpp"
#include "algorithms/sgd/models.hpp"
#include "algorithms/stragglers/stragglers.hpp"

#include <cstdio>

namespace metronome::launcher::detail {

namespace {

// --- data ------------------------------------------------------------------

// An IDX header read with the loader's own reader, or why it cannot be.
struct idx_header : algorithms::idx_header {
  std::string error; ///< empty when the header was read
};

idx_header read_idx_header(const std::string& path, bool images) {
  idx_header h;
  try {
    static_cast<algorithms::idx_header&>(h) =
        algorithms::read_idx_header(path, images);
  } catch (const algorithms::load_error& e) {
    h.error = e.what();
    return h;
  }
  std::size_t want = images ? 16 : 8;
  if (h.bytes < want)
    h.error = "it ends after " + std::to_string(h.bytes) +
              " bytes, inside the " + std::to_string(want) + "-byte IDX header";
  return h;
}

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

struct libsvm_scan {
  std::string error;       ///< first problem, with its line
  std::size_t samples = 0; ///< counted up to the requested number
  bool complete = false;   ///< the whole file was read
};

// Checks every sample of a LIBSVM file with the loader's own line parser,
// so that a bad line anywhere is reported before anything starts, and
// counts them.
libsvm_scan scan_libsvm(const std::string& path,
                        algorithms::libsvm_labels labels) {
  libsvm_scan s;
  try {
    algorithms::line_reader in(path, algorithms::libsvm_max_line);
    std::string_view line;
    while (in.next(line)) {
      std::string_view text = algorithms::libsvm_content(line);
      if (text.empty())
        continue;
      if (auto why = algorithms::libsvm_line_problem(text, labels);
          !why.empty()) {
        s.error = "line " + std::to_string(in.line_number()) + ", " + why;
        return s;
      }
      ++s.samples;
    }
  } catch (const algorithms::load_error& e) {
    s.error = e.what();
    return s;
  }
  s.complete = true;
  if (s.samples == 0)
    s.error = "it has no samples";
  return s;
}

using data_paths = std::map<std::string, std::string*>;

// Checks the IDX headers of the `readable` files; returns the number of
// training samples when it is known.
std::optional<std::size_t> check_idx(reader& r, const YAML::Node& data,
                                     const data_paths& fields,
                                     const std::set<std::string>& readable,
                                     const actors::data_spec& d,
                                     std::uint64_t& features) {
  std::optional<std::size_t> samples;
  std::map<std::string, idx_header> headers;
  for (const std::string key :
       {"train_images", "train_labels", "test_images", "test_labels"}) {
    if (!readable.count(key))
      continue;
    bool images = key.find("images") != std::string::npos;
    auto h = read_idx_header(*fields.at(key), images);
    auto what = in_quotes(key) + ": " + in_quotes(*fields.at(key));
    auto expected =
        images ? algorithms::idx_images_magic : algorithms::idx_labels_magic;
    if (h.error.empty() && h.magic != expected) {
      auto partner = images ? key.substr(0, key.find('_')) + "_labels"
                            : key.substr(0, key.find('_')) + "_images";
      r.problem(data[key],
                what + " is not an IDX " + (images ? "images" : "labels") +
                    " file (magic number " + hex32(h.magic) + ", expected " +
                    hex32(expected) + ")",
                h.magic == (images ? algorithms::idx_labels_magic
                                   : algorithms::idx_images_magic)
                    ? "that is an IDX " +
                          std::string(images ? "labels" : "images") +
                          " file; did you swap " + key + " and " + partner + "?"
                    : "give an IDX file such as " +
                          std::string(images ? "train-images-idx3-ubyte.gz"
                                             : "train-labels-idx1-ubyte.gz") +
                          " (gzip-compressed or not)");
      continue;
    }
    if (h.error.empty() &&
        (h.count == 0 || (images && (h.rows == 0 || h.cols == 0))))
      h.error = images ? "its header declares " + std::to_string(h.count) +
                             " images of " + std::to_string(h.rows) + "x" +
                             std::to_string(h.cols) + " pixels"
                       : "its header declares 0 labels";
    if (!h.error.empty()) {
      r.problem(data[key], what + " has an unreadable IDX header: " + h.error,
                "the file is truncated, corrupt or not an IDX file");
      continue;
    }
    auto limit = key == "train_images" ? d.train_limit : d.test_limit;
    auto n = limit > 0 ? std::min<std::uint64_t>(limit, h.count) : h.count;
    if (auto why = images ? algorithms::idx_images_size_problem(h, n) : "";
        !why.empty()) {
      r.problem(data[key], what + " cannot be loaded: " + why,
                "the file is truncated or its header is wrong; train_limit "
                "and test_limit load fewer images");
      continue;
    }
    headers[key] = h;
  }
  for (const std::string set : {"train", "test"}) {
    auto images = headers.find(set + "_images");
    auto labels = headers.find(set + "_labels");
    if (images == headers.end() || labels == headers.end())
      continue;
    if (images->second.count != labels->second.count) {
      r.problem(data[set + "_labels"],
                in_quotes(set + "_labels") + " has " +
                    std::to_string(labels->second.count) + " labels but " +
                    in_quotes(set + "_images") + " has " +
                    std::to_string(images->second.count) + " images",
                "pair each images file with its own labels file");
      continue;
    }
    if (set == "train")
      samples = images->second.count;
  }
  auto train = headers.find("train_images");
  auto test = headers.find("test_images");
  if (train != headers.end())
    features = std::uint64_t{train->second.rows} * train->second.cols;
  if (train != headers.end() && test != headers.end() &&
      (train->second.rows != test->second.rows ||
       train->second.cols != test->second.cols))
    r.problem(data["test_images"],
              "'test_images' holds " + std::to_string(test->second.rows) + "x" +
                  std::to_string(test->second.cols) +
                  " images but 'train_images' holds " +
                  std::to_string(train->second.rows) + "x" +
                  std::to_string(train->second.cols) + " images",
              "train and test images must have the same size");
  return samples;
}

// Checks every sample of the `readable` LIBSVM files; returns the number
// of training samples.
std::optional<std::size_t> check_libsvm(reader& r, const YAML::Node& data,
                                        const data_paths& fields,
                                        const std::set<std::string>& readable,
                                        algorithms::libsvm_labels labels) {
  std::optional<std::size_t> samples;
  bool real = labels == algorithms::libsvm_labels::real;
  for (const std::string key : {"train", "test"}) {
    if (!readable.count(key))
      continue;
    auto scan = scan_libsvm(*fields.at(key), labels);
    if (!scan.error.empty()) {
      r.problem(data[key],
                in_quotes(key) + ": " + in_quotes(*fields.at(key)) +
                    " is not a LIBSVM file: " + scan.error,
                std::string("each sample is a line 'label index:value ...' "
                            "with label ") +
                    (real ? "a finite number" : "+1, 1, -1 or 0") +
                    " and feature indices from 1; '#' starts a comment");
      continue;
    }
    if (key == "train")
      samples = scan.samples;
  }
  return samples;
}

// Loads the readable LIBSVM files as the nodes will; a file the loader
// refuses is a problem at its key.
void load_libsvm_files(reader& r, const YAML::Node& data,
                       const actors::data_spec& d,
                       const std::set<std::string>& readable, bool regression,
                       std::optional<std::size_t>& samples,
                       std::uint64_t& features) {
  const std::string hint = regression
                               ? "every line is 'target index:value ...' with "
                                 "finite numbers and indices from 1"
                               : "every line is 'label index:value ...' with "
                                 "values in the float range";
  std::string key = "train";
  try {
    if (!readable.count("train"))
      return;
    if (regression) {
      samples = algorithms::load_libsvm_regression(d.train).samples();
      return;
    }
    auto train = algorithms::load_libsvm(d.train);
    samples = train.num_samples();
    features = train.num_features;
    key = "test";
    if (readable.count("test"))
      algorithms::load_libsvm(d.test, train.num_features);
  } catch (const std::exception& e) {
    r.problem(data[key], e.what(), hint);
  }
}

// The largest message of an SGD job whose model has at most `parameters`
// parameters: each as a sparse key and value (12 bytes) with room for
// vector lengths and alignment, plus 1 MiB for the envelope, within the
// transport's default of 1 GiB (messages/transport.hpp).
std::size_t job_message_limit(std::uint64_t parameters) {
  const std::uint64_t most = std::uint64_t{1} << 30;
  if (parameters > (most - (1u << 20)) / 16)
    return most;
  return static_cast<std::size_t>(16 * parameters + (1u << 20));
}

// Refuses a model too large to allocate or send, counted on the fewest
// classes the data could have (2), before anything is allocated for it;
// bounds the job's messages by the most parameters it could have (IDX
// labels are bytes: 256 classes).
void check_model_size(reader& r, const YAML::Node& job, const YAML::Node& at,
                      actors::job_spec& spec, std::uint64_t features) {
  auto count =
      algorithms::parameter_count(spec.algorithm, features, 2, spec.hidden);
  if (count <= algorithms::model_max_parameters) {
    auto most = algorithms::parameter_count(spec.algorithm, features,
                                            spec.data.format == "idx" ? 256 : 2,
                                            spec.hidden);
    spec.max_message_bytes = job_message_limit(most);
    return;
  }
  bool mlp = spec.algorithm == "mlp";
  auto most = mlp ? algorithms::model_max_parameters / (features + 3) : 0;
  auto least = count == std::numeric_limits<std::uint64_t>::max()
                   ? std::string("2^64")
                   : std::to_string(count);
  r.problem(mlp && job["hidden"] ? job["hidden"] : at,
            spec.algorithm + " on " + std::to_string(features) +
                " features has at least " + least +
                " parameters, more than the limit of 2^27 = " +
                std::to_string(algorithms::model_max_parameters),
            mlp ? "use at most " + std::to_string(most) +
                      " hidden units on these features"
                : "use data with fewer features");
}

} // namespace

void read_data(reader& r, const YAML::Node& job, const YAML::Mark& job_at,
               actors::topology& topo) {
  auto& spec = topo.job;
  auto& d = spec.data;
  auto data = job["data"];
  if (!data) {
    r.problem(job_at, "job needs 'data'",
              "add data: with format and the training and test files");
    return;
  }
  const std::vector<std::string> idx_keys = {"train_images", "train_labels",
                                             "test_images", "test_labels"};
  // A scheduled program (lasso) reports its objective, not a test set.
  bool regression = spec.algorithm == "lasso";
  std::vector<std::string> libsvm_keys = {"train", "test"};
  if (regression)
    libsvm_keys = {"train"};
  if (!r.check_keys(data, "job.data",
                    {"format", "train_images", "train_labels", "test_images",
                     "test_labels", "train", "test", "train_limit",
                     "test_limit"},
                    reader::key_mark(job, "data")))
    return;
  bool format_ok =
      r.choice(data, "format", d.format, {"idx", "libsvm"}, "data format");
  if (!data["format"])
    format_ok = true;
  const std::string fashion = "/usr/share/datasets/fashion-mnist/";
  const std::map<std::string, std::string> example = {
      {"train_images", fashion + "train-images-idx3-ubyte.gz"},
      {"train_labels", fashion + "train-labels-idx1-ubyte.gz"},
      {"test_images", fashion + "t10k-images-idx3-ubyte.gz"},
      {"test_labels", fashion + "t10k-labels-idx1-ubyte.gz"},
      {"train", "data/train.libsvm"},
      {"test", "data/test.libsvm"}};
  data_paths fields = {{"train_images", &d.train_images},
                       {"train_labels", &d.train_labels},
                       {"test_images", &d.test_images},
                       {"test_labels", &d.test_labels},
                       {"train", &d.train},
                       {"test", &d.test}};
  for (auto& [key, field] : fields) {
    r.text(data, key, *field, example.at(key));
    *field = r.resolve(data, key, *field);
  }
  bool train_limit_ok =
      r.whole(data, "train_limit", d.train_limit, 0,
              std::numeric_limits<std::size_t>::max(), "10000");
  r.whole(data, "test_limit", d.test_limit, 0,
          std::numeric_limits<std::size_t>::max(), "1000");
  if (!format_ok)
    return;

  if (regression && data["format"] && d.format != "libsvm")
    r.problem(data["format"], "algorithm lasso needs libsvm data",
              "set format: libsvm with a 'train' file of real targets");
  if (regression)
    d.format = "libsvm";
  bool idx = d.format == "idx";
  const auto& wanted = idx ? idx_keys : libsvm_keys;
  const auto& other = idx ? libsvm_keys : idx_keys;
  for (const auto& key : other)
    if (data[key])
      r.problem(data[key],
                in_quotes(key) + " belongs to format " +
                    (idx ? "libsvm" : "idx") + ", but the format is " +
                    d.format,
                idx ? "set format: libsvm, or give train_images, "
                      "train_labels, test_images and test_labels"
                    : "set format: idx, or give train and test");
  if (spec.algorithm == "logreg" && idx)
    r.problem(job["algorithm"] ? job["algorithm"].Mark() : job.Mark(),
              "logreg is binary; it needs libsvm data",
              "set data.format: libsvm with train and test files, or use "
              "softmax or mlp for idx data");

  // Files: present and readable.
  std::set<std::string> readable;
  for (const auto& key : wanted) {
    const auto& path = *fields[key];
    if (!data[key]) {
      r.problem(reader::key_mark(job, "data"),
                "job.data needs " + in_quotes(key) + " for format " + d.format,
                "e.g. " + key + ": " + example.at(key));
      continue;
    }
    if (path.empty())
      continue;
    auto why = unreadable(path);
    if (why.empty()) {
      readable.insert(key);
      continue;
    }
    auto given = data[key].Scalar();
    std::string hint = "check the path";
    if (path.rfind(fashion, 0) == 0)
      hint = "install the Debian package dataset-fashion-mnist";
    else if (fs::path(given).is_relative())
      hint = "relative paths start at the directory of the topology file, " +
             r.dir().string();
    r.problem(data[key],
              "cannot read data file " + in_quotes(path) + ": " + why, hint);
  }

  auto workers = topo.count("worker");
  std::string samples_key = idx ? "train_images" : "train";
  auto problems_before = r.sorted_problems().size();
  std::uint64_t features = 0;
  auto samples =
      idx ? check_idx(r, data, fields, readable, d, features)
          : check_libsvm(r, data, fields, readable,
                         regression ? algorithms::libsvm_labels::real
                                    : algorithms::libsvm_labels::binary);

  // The loaders themselves read the files now (Lasso in double precision,
  // the test set with the training set's features), so that what is
  // accepted here loads on every node.
  if (!idx && r.sorted_problems().size() == problems_before)
    load_libsvm_files(r, data, d, readable, regression, samples, features);
  if (features > 0 && !regression)
    check_model_size(r, job, data[samples_key], spec, features);
  bool limited = train_limit_ok && d.train_limit > 0 &&
                 (!samples || d.train_limit < *samples);
  if (limited)
    samples = d.train_limit;
  if (samples && workers > *samples && data[samples_key])
    r.problem(limited ? data["train_limit"] : data[samples_key],
              std::to_string(workers) + " workers but only " +
                  std::to_string(*samples) + " training sample" +
                  (*samples == 1 ? "" : "s") +
                  (limited ? " (train_limit)" : ""),
              "every worker needs at least one sample of its own; " +
                  std::string(limited ? "raise train_limit" : "add data") +
                  " or use fewer workers");
}

// job.stragglers: one rule or a list of rules (see docs/topology.md).
void read_stragglers(reader& r, const YAML::Node& job, actors::topology& topo) {
  auto node = job["stragglers"];
  if (!node || node.IsNull())
    return;
  std::vector<YAML::Node> items;
  if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i)
      items.push_back(node[i]);
  } else if (node.IsMap()) {
    items.push_back(node);
  } else {
    r.problem(node, "'stragglers' must be a rule or a list of rules",
              "e.g. stragglers: [{model: constant, factor: 4, workers: [0]}]");
    return;
  }
  bool ok = true;
  for (const auto& item : items) {
    if (!r.check_keys(item, "a straggler rule",
                      {"model", "workers", "factor", "mu", "sigma", "scale",
                       "alpha", "groups", "own_share", "period",
                       "slow_iterations", "trace", "p_slow", "p_recover"},
                      item.Mark())) {
      ok = false;
      continue;
    }
    algorithms::straggler_spec spec;
    auto get = [&](const char* key, auto& out) {
      auto v = item[key];
      if (!v)
        return;
      try {
        out = v.as<std::decay_t<decltype(out)>>();
      } catch (const YAML::Exception&) {
        r.problem(v,
                  std::string("'") + key +
                      "' of a straggler rule has the wrong type",
                  "see the stragglers table in docs/topology.md");
        ok = false;
      }
    };
    get("model", spec.model);
    get("workers", spec.workers);
    get("factor", spec.factor);
    get("mu", spec.mu);
    get("sigma", spec.sigma);
    get("scale", spec.scale);
    get("alpha", spec.alpha);
    get("groups", spec.groups);
    get("own_share", spec.own_share);
    get("period", spec.period);
    get("slow_iterations", spec.slow_iterations);
    get("trace", spec.trace);
    get("p_slow", spec.p_slow);
    get("p_recover", spec.p_recover);
    spec.trace = r.resolve(item, "trace", spec.trace);
    topo.job.stragglers.push_back(spec);
  }
  if (!ok)
    return;
  try {
    algorithms::make_straggler_model(
        topo.job.stragglers, std::max<std::size_t>(1, topo.count("worker")),
        topo.job.seed);
  } catch (const std::exception& e) {
    r.problem(node, e.what(), "see the stragglers table in docs/topology.md");
  }
}

} // namespace metronome::launcher::detail
