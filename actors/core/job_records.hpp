#pragma once

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>

namespace metronome::actors {

using json = nlohmann::ordered_json;

/// The one writer of a job's outputs: human lines, "@progress" lines and
/// the final JSON line on stdout, and, in the metrics directory,
/// iterations.jsonl, evaluations.jsonl, trace.csv, summary.json and, when
/// something was changed live, events.jsonl.
///
/// Every JSON record goes through a JSON library; readers parse them back
/// (parse_record, final_record). A failed write is remembered with the
/// file it concerns (error()), so a job can fail instead of losing records.
class job_records {
public:
  /// Records to stdout only (no metrics directory).
  job_records() = default;

  /// Creates `metrics_dir` when missing and opens its files; `trace_header`
  /// is the first line of trace.csv. Throws std::runtime_error naming the
  /// path that cannot be written.
  job_records(const std::string& metrics_dir, const std::string& trace_header);

  /// Whether "@progress" lines are printed (METRONOME_PROGRESS is set).
  bool progress_enabled() const { return progress_; }

  /// One line of iterations.jsonl.
  void iteration(const json& record) { write_line(iterations_, record.dump()); }
  /// One line of iterations.jsonl per element of the array `records`.
  void iterations(const json& records);
  /// One line of evaluations.jsonl.
  void evaluation(const json& record) {
    write_line(evaluations_, record.dump());
  }
  /// One line of events.jsonl: a change made while the job runs (a pause
  /// or resume from inspect); the file is created with its first event.
  void event(const json& record);
  /// One row of trace.csv (without the newline).
  void trace(std::string_view row);
  /// Whether trace.csv is written.
  bool tracing() const { return trace_.out.is_open(); }

  /// A line for people on stdout.
  void say(std::string_view text);
  /// A "@progress {json}" line on stdout, when enabled.
  void progress(const json& record);
  /// summary.json (when there is a metrics directory).
  void summary(const json& record);
  /// The final JSON line on stdout.
  void final_line(const json& record);

  /// The first write that failed ("cannot write PATH: why"), or empty.
  const std::string& error() const { return error_; }

private:
  struct file {
    std::filesystem::path path;
    std::ofstream out;
    std::uintmax_t whole = 0; // bytes of the records written whole
  };

  void open(file& f, const std::string& name);
  void write_line(file& f, std::string_view text);
  void fail(const std::string& what);

  std::filesystem::path dir_;
  file iterations_;
  file evaluations_;
  file events_;
  file trace_;
  bool progress_ = false;
  std::string error_;
};

/// Writes `bytes` to `path` through a temporary file beside it renamed
/// over it, so a reader never sees half a file; returns "" or "cannot
/// write PATH: why" (the OS error, or what it is when not a file).
std::string write_file_atomically(const std::string& path,
                                  std::string_view bytes);

/// The JSON object on `line`, or nullopt when the line is not one.
std::optional<json> parse_record(std::string_view line);

/// The last line of `output` that is a JSON object (a job's final line),
/// or nullopt.
std::optional<json> final_record(std::string_view output);

} // namespace metronome::actors
