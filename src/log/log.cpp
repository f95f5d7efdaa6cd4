#include "log/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace midimesh::log {
namespace {
std::atomic<Level> current{Level::info};

const char* name(Level level) {
  switch (level) {
  case Level::debug:
    return "debug";
  case Level::info:
    return "info";
  case Level::warning:
    return "warning";
  case Level::error:
    return "error";
  }
  return "?";
}
} // namespace

void set_level(Level level) noexcept {
  current.store(level, std::memory_order_relaxed);
}

bool enabled(Level level) noexcept {
  return level >= current.load(std::memory_order_relaxed);
}

void write(Level level, std::string_view component, std::string_view message) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t t = system_clock::to_time_t(now);
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  localtime_r(&t, &tm);
  char stamp[16];
  std::strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
  // One fprintf per line so lines from different threads never interleave.
  std::fprintf(stderr, "%s.%03d %-7s %.*s: %.*s\n", stamp, static_cast<int>(ms), name(level),
               static_cast<int>(component.size()), component.data(),
               static_cast<int>(message.size()), message.data());
}

bool parse_level(std::string_view text, Level& out) noexcept {
  if (text == "debug")
    out = Level::debug;
  else if (text == "info")
    out = Level::info;
  else if (text == "warning" || text == "warn")
    out = Level::warning;
  else if (text == "error")
    out = Level::error;
  else
    return false;
  return true;
}

} // namespace midimesh::log
