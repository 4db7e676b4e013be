#pragma once

#include <initializer_list>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace ping_exporter {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class LogFormat { kLogfmt, kJson };

std::optional<LogLevel> ParseLogLevel(std::string_view text);
std::optional<LogFormat> ParseLogFormat(std::string_view text);

using LogField = std::pair<std::string_view, std::string>;

/// Structured logger writing one line per call (logfmt or JSON) to a stream.
/// Thread-safe: lines from different threads never interleave. The stream is
/// borrowed and must outlive the logger. Write errors (a full disk) are ignored
/// so logging never stops the prober.
class Logger {
 public:
  Logger(std::ostream& out, LogLevel level, LogFormat format)
      : out_(out), level_(level), format_(format) {}
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  bool Enabled(LogLevel level) const { return level >= level_; }
  void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});
  void Debug(std::string_view msg, std::initializer_list<LogField> f = {}) {
    Log(LogLevel::kDebug, msg, f);
  }
  void Info(std::string_view msg, std::initializer_list<LogField> f = {}) {
    Log(LogLevel::kInfo, msg, f);
  }
  void Warn(std::string_view msg, std::initializer_list<LogField> f = {}) {
    Log(LogLevel::kWarn, msg, f);
  }
  void Error(std::string_view msg, std::initializer_list<LogField> f = {}) {
    Log(LogLevel::kError, msg, f);
  }

 private:
  std::ostream& out_;
  LogLevel level_;
  LogFormat format_;
  std::mutex mu_;
};

}  // namespace ping_exporter
