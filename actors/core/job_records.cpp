#include "actors/core/job_records.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace metronome::actors {

job_records::job_records(const std::string& metrics_dir,
                         const std::string& trace_header)
    : dir_(metrics_dir) {
  progress_ = std::getenv("METRONOME_PROGRESS") != nullptr;
  if (metrics_dir.empty())
    return;
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec)
    throw std::runtime_error("cannot create the metrics directory " +
                             dir_.string() + ": " + ec.message());
  open(iterations_, "iterations.jsonl");
  open(evaluations_, "evaluations.jsonl");
  open(trace_, "trace.csv");
  write_line(trace_, trace_header);
  if (!error_.empty())
    throw std::runtime_error(error_);
}

void job_records::open(file& f, const std::string& name) {
  f.path = dir_ / name;
  f.out.open(f.path);
  if (!f.out)
    throw std::runtime_error("cannot write " + f.path.string() + ": " +
                             std::strerror(errno));
}

void job_records::fail(const std::string& what) {
  if (error_.empty())
    error_ = what;
}

void job_records::write_line(file& f, std::string_view text) {
  if (!f.out.is_open())
    return;
  f.out << text << '\n';
  // Flushed per record: a reader (or a crash) sees whole lines only, and a
  // full disk is noticed at the record it hits.
  f.out.flush();
  if (f.out) {
    f.whole += text.size() + 1;
    return;
  }
  fail("cannot write " + f.path.string() + ": " + std::strerror(errno));
  // The part of the record that made it would read as a broken line: the
  // file is cut back to its whole records and written no more.
  f.out.close();
  std::error_code ec;
  std::filesystem::resize_file(f.path, f.whole, ec);
}

void job_records::iterations(const json& records) {
  std::string lines;
  for (const auto& r : records)
    lines += r.dump() + '\n';
  if (!lines.empty()) {
    lines.pop_back();
    write_line(iterations_, lines);
  }
}

void job_records::event(const json& record) {
  if (!dir_.empty() && !events_.out.is_open()) {
    events_.path = dir_ / "events.jsonl";
    events_.out.open(events_.path);
    if (!events_.out) {
      fail("cannot write " + events_.path.string() + ": " +
           std::strerror(errno));
      return;
    }
  }
  write_line(events_, record.dump());
}

void job_records::trace(std::string_view row) {
  write_line(trace_, row);
}

void job_records::say(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void job_records::progress(const json& record) {
  if (progress_)
    say("@progress " + record.dump());
}

void job_records::summary(const json& record) {
  if (dir_.empty())
    return;
  auto error = write_file_atomically((dir_ / "summary.json").string(),
                                     record.dump() + "\n");
  if (!error.empty())
    fail(error);
}

void job_records::final_line(const json& record) {
  say(record.dump());
}

std::string write_file_atomically(const std::string& path,
                                  std::string_view bytes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (fs::is_directory(status))
    return "cannot write " + path + ": it is a directory";
  // Renaming over a device or a FIFO would replace it, not write to it.
  if (fs::exists(status) && !fs::is_regular_file(status))
    return "cannot write " + path + ": it is not a regular file";
  auto temporary = path + ".partial";
  errno = 0;
  std::FILE* f = std::fopen(temporary.c_str(), "wb");
  if (f == nullptr)
    return "cannot write " + path + ": " + std::strerror(errno);
  bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  int saved = errno;
  if (std::fclose(f) != 0 && written) {
    written = false;
    saved = errno;
  }
  if (written && std::rename(temporary.c_str(), path.c_str()) == 0)
    return {};
  if (written)
    saved = errno;
  std::remove(temporary.c_str());
  return "cannot write " + path + ": " +
         std::strerror(saved != 0 ? saved : EIO);
}

std::optional<json> parse_record(std::string_view line) {
  while (!line.empty() &&
         (line.back() == '\r' || line.back() == '\n' || line.back() == ' '))
    line.remove_suffix(1);
  if (line.empty() || line.front() != '{' || line.back() != '}')
    return std::nullopt;
  auto parsed = json::parse(line, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return std::nullopt;
  return parsed;
}

std::optional<json> final_record(std::string_view output) {
  while (!output.empty()) {
    auto end = output.find_last_not_of('\n');
    if (end == std::string_view::npos)
      break;
    output = output.substr(0, end + 1);
    auto begin = output.rfind('\n');
    auto line =
        begin == std::string_view::npos ? output : output.substr(begin + 1);
    if (auto record = parse_record(line))
      return record;
    output = begin == std::string_view::npos ? std::string_view{}
                                             : output.substr(0, begin);
  }
  return std::nullopt;
}

} // namespace metronome::actors
