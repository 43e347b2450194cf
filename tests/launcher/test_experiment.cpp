// `metronome experiment` end to end: real trials of a tiny job, read back
// from the files they write.

#include "tests/support.hpp"

#include "actors/core/job_records.hpp"
#include "algorithms/program.hpp"
#include "algorithms/stats/interval.hpp"
#include "launcher/config.hpp"
#include "launcher/experiment/experiment_file.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

namespace metronome::test {
namespace {

namespace fs = std::filesystem;
using actors::json;

std::string read_all(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A topology of one node: coordinator, a server and two workers training
// softmax on a slice of Fashion-MNIST.
std::string tiny_topology(std::size_t train = 1200, std::size_t epochs = 1) {
  return "cluster:\n  nodes:\n    - name: head\n      port: 25990\n"
         "      roles: [coordinator/0, server/0, worker/0, worker/1]\n"
         "job:\n  algorithm: softmax\n  data:\n    format: idx\n"
         "    train_images: " +
         fashion_mnist("train-images-idx3-ubyte.gz") +
         "\n    train_labels: " + fashion_mnist("train-labels-idx1-ubyte.gz") +
         "\n    test_images: " + fashion_mnist("t10k-images-idx3-ubyte.gz") +
         "\n    test_labels: " + fashion_mnist("t10k-labels-idx1-ubyte.gz") +
         "\n    train_limit: " + std::to_string(train) +
         "\n    test_limit: 300\n  consistency: bsp\n  epochs: " +
         std::to_string(epochs) +
         "\n  batch_size: 16\n  learning_rate: 0.1\n  seed: 1\n"
         "options:\n  metrics_dir: unused\n";
}

// The same on the small LIBSVM file of tests/data: quicker to validate
// than Fashion-MNIST, which matters under the sanitizers.
std::string tiny_libsvm_topology() {
  return "cluster:\n  nodes:\n    - name: head\n      port: 25990\n"
         "      roles: [coordinator/0, server/0, worker/0, worker/1]\n"
         "job:\n  algorithm: logreg\n  data:\n    format: libsvm\n"
         "    train: " METRONOME_SOURCE_DIR "/tests/data/synthetic.libsvm\n"
         "    test: " METRONOME_SOURCE_DIR "/tests/data/synthetic.libsvm\n"
         "  consistency: bsp\n  epochs: 1\n  batch_size: 4\n"
         "  learning_rate: 0.1\n  seed: 1\n";
}

const char* two_axes = R"(base: base.yaml
set: {job.learning_rate: 0.05}
axes:
  model:
    - {label: bsp, job.consistency: bsp}
    - {job.consistency: ssp, job.staleness: 2}
  job.batch_size: [16, 32]
seeds: [1, 2]
targets: ["loss <= 1.6 over 3", "test_accuracy >= 0.5"]
smoothing: 2
output: out
)";

// Fields of one CSV line (quoted fields may hold commas and quotes).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      fields.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

using csv_rows = std::vector<std::map<std::string, std::string>>;

csv_rows read_csv(const fs::path& p) {
  std::ifstream in(p);
  std::string line;
  std::getline(in, line);
  auto header = csv_fields(line);
  csv_rows rows;
  while (std::getline(in, line)) {
    auto fields = csv_fields(line);
    EXPECT_EQ(fields.size(), header.size()) << line;
    std::map<std::string, std::string> row;
    for (std::size_t i = 0; i < header.size() && i < fields.size(); ++i)
      row[header[i]] = fields[i];
    rows.push_back(row);
  }
  return rows;
}

// Records of one jsonl file in file order.
std::vector<json> records(const fs::path& p) {
  std::vector<json> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line))
    if (auto r = actors::parse_record(line))
      out.push_back(*r);
  return out;
}

// The first wall time where the mean of the last `window` values of `key`
// over `recs` is at most (`at_most`) or at least `level`.
double recomputed_time(const std::vector<json>& recs, const std::string& key,
                       bool at_most, double level, std::size_t window) {
  std::vector<std::pair<double, double>> points;
  for (const auto& r : recs)
    if (r.contains(key))
      points.emplace_back(r["wall_s"].get<double>(), r[key].get<double>());
  window = std::max<std::size_t>(1, std::min(window, points.size()));
  for (std::size_t i = window - 1; i < points.size(); ++i) {
    double sum = 0;
    for (std::size_t j = i + 1 - window; j <= i; ++j)
      sum += points[j].second;
    double mean = sum / static_cast<double>(window);
    if (at_most ? mean <= level : mean >= level)
      return points[i].first;
  }
  return std::nan("");
}

void expect_same(double expected, const std::string& written,
                 const std::string& what) {
  if (std::isnan(expected)) {
    EXPECT_EQ(written, "") << what;
    return;
  }
  ASSERT_FALSE(written.empty()) << what;
  EXPECT_NEAR(std::stod(written), expected, 1e-9 * (1 + std::fabs(expected)))
      << what;
}

class Experiment : public ::testing::Test {
protected:
  void SetUp() override {
    write_file(dir / "base.yaml", tiny_topology());
    write_file(dir / "exp.yaml", two_axes);
  }

  command_result experiment(const std::string& args = "") {
    return run("cd " + dir.path().string() + " && " + binary() +
               " experiment exp.yaml " + args);
  }

  temp_dir dir;
};

TEST_F(Experiment, TwoAxesTwoSeedsWriteEveryFileFromTheTrialsRecords) {
  auto r = experiment();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("8 trials (4 cells x 2 seeds), 0 complete already, "
                          "8 to run"),
            std::string::npos)
      << r.output;
  auto out = dir / "out";
  for (const char* f : {"trials.csv", "summary.csv", "experiment.json",
                        "index.html", "figures/loss-wall.svg",
                        "figures/loss-step.svg", "figures/staleness.svg"})
    EXPECT_TRUE(fs::is_regular_file(out / f)) << f;
  auto trials = read_csv(out / "trials.csv");
  ASSERT_EQ(trials.size(), 8u);
  std::map<std::string, std::vector<double>> wall_by_cell;
  for (const auto& row : trials) {
    auto trial = out / row.at("trial");
    EXPECT_EQ(row.at("status"), "complete");
    auto final_line =
        actors::final_record(read_all(trial / "output.txt")).value();
    auto iterations = records(trial / "iterations.jsonl");
    auto evaluations = records(trial / "evaluations.jsonl");
    ASSERT_FALSE(iterations.empty());
    expect_same(final_line["wall_s"].get<double>(), row.at("wall_s"), "wall_s");
    expect_same(iterations.back()["loss"].get<double>(), row.at("final_loss"),
                "final_loss");
    expect_same(evaluations.back()["test_accuracy"].get<double>(),
                row.at("final_test_accuracy"), "final_test_accuracy");
    expect_same(final_line["samples_per_s"].get<double>(),
                row.at("samples_per_s"), "samples_per_s");
    expect_same(recomputed_time(iterations, "loss", true, 1.6, 3),
                row.at("loss_le_1.6_wall_s"), "time to loss <= 1.6");
    expect_same(recomputed_time(evaluations, "test_accuracy", false, 0.5, 2),
                row.at("test_accuracy_ge_0.5_wall_s"), "time to accuracy");
    auto topology = launcher::load_topology((trial / "topology.yaml").string());
    EXPECT_EQ(std::to_string(topology.job.seed), row.at("seed"));
    EXPECT_EQ(std::to_string(topology.job.batch_size),
              row.at("job.batch_size"));
    EXPECT_FLOAT_EQ(topology.job.learning_rate, 0.05f);
    wall_by_cell[row.at("cell")].push_back(std::stod(row.at("wall_s")));
  }
  auto summary = read_csv(out / "summary.csv");
  ASSERT_EQ(summary.size(), 4u);
  for (const auto& row : summary) {
    const auto& walls = wall_by_cell.at(row.at("cell"));
    ASSERT_EQ(walls.size(), 2u);
    auto ci = algorithms::t_interval(walls);
    expect_same(ci.mean, row.at("wall_s_mean"), "wall_s_mean");
    expect_same(ci.low, row.at("wall_s_low"), "wall_s_low");
    expect_same(ci.high, row.at("wall_s_high"), "wall_s_high");
    EXPECT_EQ(row.at("complete"), "2");
  }
  EXPECT_NE(read_all(out / "experiment.json").find("\"commit\""),
            std::string::npos);
}

TEST_F(Experiment, RerunSkipsCompleteTrialsAndRerunsOnlyWhatIsMissing) {
  ASSERT_EQ(experiment().exit_code, 0);
  auto again = experiment();
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("8 complete already, 0 to run"),
            std::string::npos)
      << again.output;
  auto trials = read_csv(dir / "out" / "trials.csv");
  ASSERT_EQ(trials.size(), 8u);
  auto untouched = dir / "out" / trials[1].at("trial") / "output.txt";
  auto before = read_all(untouched);
  fs::remove_all(dir / "out" / trials[0].at("trial"));
  // A crash after the job ended but before trial.json was written.
  fs::remove(dir / "out" / trials[2].at("trial") / "trial.json");
  auto resumed = experiment();
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("6 complete already, 2 to run"),
            std::string::npos)
      << resumed.output;
  EXPECT_TRUE(fs::exists(dir / "out" / trials[0].at("trial") / "trial.json"));
  EXPECT_EQ(read_all(untouched), before);
  auto forced = experiment("--force");
  EXPECT_NE(forced.output.find("0 complete already, 8 to run"),
            std::string::npos)
      << forced.output;
}

// Starts the experiment, waits until its first trial's job has started,
// and sends `signal` to the experiment process.
command_result interrupt_first_trial(const temp_dir& dir, int signal) {
  auto log = dir / "log";
  // A trial folder left by an earlier run holds an old output.txt.
  auto launched = fs::file_time_type::clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    if (chdir(dir.path().c_str()) != 0)
      _exit(126);
    FILE* out = std::freopen(log.c_str(), "w", stdout);
    if (out == nullptr || dup2(fileno(stdout), STDERR_FILENO) < 0)
      _exit(126);
    execl(binary().c_str(), binary().c_str(), "experiment", "exp.yaml",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  bool started = false;
  for (int i = 0; i < 1200 && !started; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir / "out", ec)) {
      auto output = e.path() / "output.txt";
      auto written = fs::last_write_time(output, ec);
      started = started ||
                (!ec && written >= launched &&
                 read_all(output).find("job started") != std::string::npos);
    }
  }
  EXPECT_TRUE(started) << read_all(log);
  kill(pid, signal);
  int status = 0;
  waitpid(pid, &status, 0);
  command_result result;
  result.output = read_all(log);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return result;
}

TEST(ExperimentInterrupted,
     TrialStoppedMidwayIsNeverCompleteAndRerunsOnResume) {
  for (int signal : {SIGINT, SIGKILL}) {
    temp_dir dir;
    write_file(dir / "base.yaml", tiny_topology(6000, 200));
    write_file(dir / "exp.yaml",
               "base: base.yaml\naxes: {job.batch_size: [16]}\nseeds: [1]\n"
               "output: out\n");
    auto r = interrupt_first_trial(dir, signal);
    if (signal == SIGINT) {
      EXPECT_EQ(r.exit_code, 130) << r.output;
      EXPECT_NE(r.output.find("interrupted"), std::string::npos) << r.output;
    }
    std::size_t folders = 0;
    for (const auto& e : fs::directory_iterator(dir / "out"))
      if (fs::is_directory(e.path()) && e.path().filename() != "figures") {
        ++folders;
        EXPECT_EQ(read_all(e.path() / "trial.json").find("\"complete\""),
                  std::string::npos)
            << "signal " << signal;
      }
    EXPECT_EQ(folders, 1u);
    // The same trial (same hash) must run again, not be skipped.
    auto again = interrupt_first_trial(dir, SIGINT);
    EXPECT_NE(again.output.find("0 complete already, 1 to run"),
              std::string::npos)
        << again.output;
  }
}

TEST_F(Experiment, FiguresAreWellFormedSvgWithOneSeriesPerCell) {
  if (run("command -v xmllint").exit_code != 0)
    GTEST_SKIP() << "xmllint is not installed (Debian: libxml2-utils)";
  ASSERT_EQ(experiment().exit_code, 0);
  std::size_t figures = 0;
  for (const auto& e : fs::directory_iterator(dir / "out" / "figures")) {
    if (e.path().extension() != ".svg")
      continue;
    ++figures;
    auto check = run("xmllint --noout '" + e.path().string() + "'");
    EXPECT_EQ(check.exit_code, 0) << e.path() << ": " << check.output;
  }
  EXPECT_GE(figures, 8u);
  auto loss = read_all(dir / "out" / "figures" / "loss-wall.svg");
  for (const char* cell : {"model=bsp batch_size=16", "model=bsp batch_size=32",
                           "model=consistency=ssp,staleness=2 batch_size=16",
                           "model=consistency=ssp,staleness=2 batch_size=32"})
    EXPECT_NE(loss.find(std::string("data-label=\"") + cell + "\""),
              std::string::npos)
        << cell;
}

TEST_F(Experiment, ReportRendersInHeadlessChromium) {
  if (run("command -v chromium").exit_code != 0)
    GTEST_SKIP() << "chromium is not installed (Debian: chromium)";
  ASSERT_EQ(experiment().exit_code, 0);
  auto page = dir / "out" / "index.html";
  std::string browser = "timeout 150 chromium --headless --no-sandbox "
                        "--disable-gpu --user-data-dir='" +
                        (dir / "profile").string() + "' ";
  auto dom = run(browser + "--dump-dom 'file://" + page.string() + "'");
  ASSERT_EQ(dom.exit_code, 0) << dom.output;
  std::size_t figures = 0;
  for (const auto& e : fs::directory_iterator(dir / "out" / "figures"))
    figures += e.path().extension() == ".svg";
  std::size_t svgs = 0;
  for (auto at = dom.output.find("<svg"); at != std::string::npos;
       at = dom.output.find("<svg", at + 1))
    ++svgs;
  EXPECT_EQ(svgs, figures);
  EXPECT_NE(dom.output.find("model=bsp batch_size=16"), std::string::npos);
  auto shot = dir / "shot.png";
  auto r = run(browser + "--screenshot='" + shot.string() +
               "' --window-size=1200,2000 'file://" + page.string() + "'");
  ASSERT_TRUE(fs::exists(shot)) << r.output;
  EXPECT_GT(fs::file_size(shot), 40000u);
}

TEST(ExperimentLaunch, WorkerCountsThroughTheClusterTemplateOverTcp) {
  temp_dir dir;
  write_file(dir / "base.yaml", tiny_topology());
  write_file(dir / "exp.yaml",
             "base: base.yaml\nmode: launch\naxes:\n  cluster.workers: [1, "
             "3]\n  cluster.servers: [2]\nseeds: [5]\noutput: out\n");
  auto r = run("cd " + dir.path().string() + " && " + binary() +
               " experiment exp.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto trials = read_csv(dir / "out" / "trials.csv");
  ASSERT_EQ(trials.size(), 2u);
  for (const auto& row : trials) {
    auto trial = dir / "out" / row.at("trial");
    auto topology = launcher::load_topology((trial / "topology.yaml").string());
    auto workers = std::stoul(row.at("cluster.workers"));
    EXPECT_EQ(topology.count("worker"), workers);
    EXPECT_EQ(topology.count("server"), 2u);
    // The base's first node holds workers, so the head keeps worker/0.
    EXPECT_EQ(topology.nodes.size(), workers);
    EXPECT_EQ(topology.node_of("worker/0")->name, "head");
    auto line = actors::final_record(read_all(trial / "output.txt")).value();
    EXPECT_EQ(line["workers"].get<std::size_t>(), workers);
    EXPECT_EQ(line["servers"].get<std::size_t>(), 2u);
  }
}

TEST(ExperimentFile, VariantsMayStartFromTheirOwnBase) {
  temp_dir dir;
  write_file(dir / "base.yaml", tiny_topology());
  auto three = tiny_topology();
  three.replace(three.find("worker/1]"), 9, "worker/1, worker/2]");
  write_file(dir / "three.yaml", three);
  write_file(
      dir / "exp.yaml",
      "base: base.yaml\naxes:\n  layout:\n    - {label: two}\n"
      "    - {label: three, base: three.yaml, job.batch_size: 8}\nseeds: [1]\n"
      "output: out\n");
  auto r = run("cd " + dir.path().string() + " && " + binary() +
               " experiment exp.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto rows = read_csv(dir / "out" / "trials.csv");
  ASSERT_EQ(rows.size(), 2u);
  std::map<std::string, std::size_t> workers;
  for (const auto& row : rows) {
    auto line = actors::final_record(
                    read_all(dir / "out" / row.at("trial") / "output.txt"))
                    .value();
    workers[row.at("layout")] = line["workers"].get<std::size_t>();
  }
  EXPECT_EQ(workers["two"], 2u);
  EXPECT_EQ(workers["three"], 3u);
}

struct bad_experiment {
  const char* name;
  const char* text;
  const char* expected; ///< part of the one problem, after "exp.yaml:L:C: "
  int line;
};

TEST(ExperimentFile, BadInputIsLocatedAndStartsNoTrial) {
  const bad_experiment cases[] = {
      {"unknown key",
       "base: base.yaml\naxis: {job.batch_size: [16]}\n"
       "axes: {job.batch_size: [16]}\nseeds: [1]\n",
       "unknown key 'axis' in the experiment (did you mean 'axes'?)", 2},
      {"key that does not exist",
       "base: base.yaml\naxes:\n  job.stalenes: [1]\nseeds: [1]\n",
       "axis 'job.stalenes' value '1' makes a topology the loader refuses: "
       "unknown key 'stalenes' in job (did you mean 'staleness'?)",
       3},
      {"empty axes", "base: base.yaml\naxes: {}\nseeds: [1]\n",
       "the experiment needs at least one axis", 2},
      {"empty value list",
       "base: base.yaml\naxes:\n  job.batch_size: []\n"
       "seeds: [1]\n",
       "axis 'job.batch_size' needs a non-empty list", 3},
      {"refused value",
       "base: base.yaml\naxes:\n  job.consistency:\n    - bsp\n    - bogus\n"
       "seeds: [1]\n",
       "unknown consistency model 'bogus'", 5},
      {"unreported target",
       "base: base.yaml\naxes: {job.batch_size: [16]}\nseeds: [1]\n"
       "targets: [\"objective <= 0.1\"]\n",
       "algorithm logreg does not report 'objective'", 4},
      {"malformed target",
       "base: base.yaml\naxes: {job.batch_size: [16]}\nseeds: [1]\n"
       "targets: [\"loss < 0.1\"]\n",
       "a target must read 'METRIC <= NUMBER'", 4},
      {"window of zero",
       "base: base.yaml\naxes: {job.batch_size: [16]}\nseeds: [1]\n"
       "targets: [\"loss <= 0.1 over 0\"]\n",
       "optionally followed by 'over N' (N >= 1)", 4},
      {"seed as an axis",
       "base: base.yaml\naxes: {job.seed: [1, 2]}\n"
       "seeds: [1]\n",
       "an axis cannot set 'job.seed' (list the seeds under 'seeds')", 2},
      {"no seeds", "base: base.yaml\naxes: {job.batch_size: [16]}\n",
       "'seeds' must be a non-empty list", 1},
      {"missing base", "axes: {job.batch_size: [16]}\nseeds: [1]\n",
       "missing 'base'", 1},
      {"bad worker count",
       "base: base.yaml\naxes: {cluster.workers: [0]}\nseeds: [1]\n",
       "cluster.workers must be a whole number in 1..1024, not '0'", 2},
      {"variant base of another program",
       "base: base.yaml\naxes:\n  program:\n    - {label: a}\n"
       "    - {base: LASSO}\nseeds: [1]\n",
       "runs algorithm 'lasso', the experiment's base 'logreg'", 5},
      {"unknown key under set",
       "base: base.yaml\nset: {job.bogus: 1}\naxes: {job.batch_size: [8]}\n"
       "seeds: [1]\n",
       "'set' makes a topology the loader refuses: unknown key 'bogus' in job",
       2},
      {"combination refused",
       "base: base.yaml\naxes:\n  job.consistency: [bsp, ssp]\n"
       "  job.staleness: [2]\nseeds: [1]\n",
       "'staleness' applies only to consistency ssp or essp", 4},
  };
  for (const auto& c : cases) {
    temp_dir dir;
    write_file(dir / "base.yaml", tiny_libsvm_topology());
    std::string text = c.text;
    if (auto at = text.find("LASSO"); at != std::string::npos)
      text.replace(at, 5,
                   std::string(METRONOME_SOURCE_DIR) + "/configs/lasso.yaml");
    write_file(dir / "exp.yaml", text);
    auto r = run("cd " + dir.path().string() + " && " + binary() +
                 " experiment exp.yaml");
    EXPECT_EQ(r.exit_code, 2) << c.name << "\n" << r.output;
    auto located = (dir / "exp.yaml").string();
    EXPECT_NE(r.output.find("exp.yaml:" + std::to_string(c.line) + ":"),
              std::string::npos)
        << c.name << "\n"
        << r.output;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << c.name << "\n"
                                                            << r.output;
    EXPECT_NE(r.output.find("no trial was started"), std::string::npos)
        << c.name;
    EXPECT_FALSE(fs::exists(dir / "results")) << c.name;
  }
}

// The base topology of a run of each program that takes a second: a file
// of configs/, or one written into `dir`.
std::map<std::string, std::string> program_bases(const temp_dir& dir) {
  std::string configs = std::string(METRONOME_SOURCE_DIR) + "/configs/";
  std::string data = std::string(METRONOME_SOURCE_DIR) + "/tests/data/";
  write_file(dir / "softmax.yaml", tiny_topology());
  auto mlp = tiny_topology();
  mlp.replace(mlp.find("softmax"), 7, "mlp");
  write_file(dir / "mlp.yaml", mlp);
  write_file(dir / "lda.yaml",
             "cluster:\n  nodes:\n    - name: head\n      port: 25980\n"
             "      roles: [coordinator/0, scheduler/0, worker/0, worker/1]\n"
             "job:\n  algorithm: lda\n  seed: 1\n  data:\n    format: docword\n"
             "    docword: " +
                 data + "uci-mini/docword.mini.txt\n    vocab: " + data +
                 "uci-mini/vocab.mini.txt\n  lda:\n    topics: 3\n"
                 "    iterations: 3\n    blocks: 2\n    heldout: 0.3\n");
  return {{"softmax", (dir / "softmax.yaml").string()},
          {"mlp", (dir / "mlp.yaml").string()},
          {"logreg", configs + "logreg-libsvm.yaml"},
          {"lasso", configs + "lasso.yaml"},
          {"lda", (dir / "lda.yaml").string()}};
}

TEST(ProgramMetrics, EveryMetricTheRegistryListsIsInTheRecords) {
  temp_dir dir;
  auto bases = program_bases(dir);
  for (const auto& program : algorithms::programs()) {
    ASSERT_TRUE(bases.count(program.name)) << "no base for " << program.name;
    write_file(dir / "exp.yaml",
               "base: " + bases.at(program.name) +
                   "\naxes:\n  program:\n    - {label: " + program.name +
                   ", job.algorithm: " + program.name +
                   "}\nseeds: [3]\noutput: " + program.name + "\n");
    auto r = run("cd " + dir.path().string() + " && " + binary() +
                 " experiment exp.yaml");
    ASSERT_EQ(r.exit_code, 0) << program.name << "\n" << r.output;
    auto rows = read_csv(dir / program.name / "trials.csv");
    ASSERT_EQ(rows.size(), 1u);
    for (const auto& metric : program.metrics)
      EXPECT_FALSE(rows[0]["final_" + metric].empty())
          << program.name << " lists " << metric
          << " but its records do not carry it";
  }
}

// The rebuilt cluster keeps the base's layout of its head: worker/0 stays
// beside the servers when the base's first node held a worker.
TEST(ExperimentFile, ClusterCountsRebuildTheNodesAroundTheHead) {
  auto roles_of = [](const YAML::Node& tree) {
    std::vector<std::string> out;
    for (const auto& node : tree["cluster"]["nodes"]) {
      auto roles = launcher::experiment::emit(node["roles"]);
      out.push_back(node["name"].as<std::string>() + ":" +
                    roles.substr(0, roles.find('\n')));
    }
    return out;
  };
  auto base = [](const std::string& head_roles) {
    return YAML::Load("cluster: {nodes: [{name: a, port: 3000, roles: [" +
                      head_roles +
                      "]}, {name: b, port: 3001, roles: [worker/1]}]}");
  };
  std::vector<launcher::experiment::setting> three = {
      {"cluster.workers", YAML::Node(3)}, {"cluster.servers", YAML::Node(2)}};
  auto apart = base("coordinator/0, server/0");
  ASSERT_EQ(launcher::experiment::apply(apart, three), "");
  EXPECT_EQ(roles_of(apart),
            (std::vector<std::string>{
                "head:[coordinator/0, server/0, server/1]", "w0:[worker/0]",
                "w1:[worker/1]", "w2:[worker/2]"}));
  auto beside = base("coordinator/0, server/0, worker/0");
  ASSERT_EQ(launcher::experiment::apply(beside, three), "");
  EXPECT_EQ(roles_of(beside),
            (std::vector<std::string>{
                "head:[coordinator/0, server/0, server/1, worker/0]",
                "w1:[worker/1]", "w2:[worker/2]"}));
  EXPECT_EQ(beside["cluster"]["nodes"][2]["port"].as<int>(), 3003);
}

TEST(ExperimentFile, SetDottedCreatesMappingsAndIndexesLists) {
  auto tree = YAML::Load("job: {stragglers: [{model: constant, factor: 2}]}");
  EXPECT_EQ(launcher::experiment::set_dotted(tree, "job.cutoff.rule",
                                             YAML::Node("static")),
            "");
  EXPECT_EQ(tree["job"]["cutoff"]["rule"].as<std::string>(), "static");
  EXPECT_EQ(launcher::experiment::set_dotted(tree, "job.stragglers.0.factor",
                                             YAML::Node(4)),
            "");
  EXPECT_EQ(tree["job"]["stragglers"][0]["factor"].as<int>(), 4);
  EXPECT_EQ(tree["job"]["stragglers"][0]["model"].as<std::string>(),
            "constant");
  EXPECT_NE(launcher::experiment::set_dotted(tree, "job.stragglers.3.factor",
                                             YAML::Node(4)),
            "");
  EXPECT_NE(launcher::experiment::set_dotted(tree, "job.cutoff.rule.x",
                                             YAML::Node(1)),
            "");
}

} // namespace
} // namespace metronome::test
