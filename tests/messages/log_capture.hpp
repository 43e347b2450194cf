#pragma once

// Captures spdlog lines in a test.

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace metronome::test {

// Keeps every log line while it is the default logger.
class line_sink : public spdlog::sinks::base_sink<std::mutex> {
public:
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> guard{lines_mtx_};
    return lines_;
  }

protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::lock_guard<std::mutex> guard{lines_mtx_};
    lines_.emplace_back(msg.payload.data(), msg.payload.size());
  }
  void flush_() override {}

private:
  std::mutex lines_mtx_;
  std::vector<std::string> lines_;
};

/// Makes a logger that keeps every line the default one while it lives.
class log_capture {
public:
  log_capture()
      : sink_(std::make_shared<line_sink>())
      , previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("capture", sink_);
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  ~log_capture() { spdlog::set_default_logger(previous_); }

  /// The lines containing `text`.
  std::vector<std::string> matching(const std::string& text) {
    std::vector<std::string> out;
    for (auto& line : sink_->lines())
      if (line.find(text) != std::string::npos)
        out.push_back(line);
    return out;
  }

private:
  std::shared_ptr<line_sink> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

} // namespace metronome::test
