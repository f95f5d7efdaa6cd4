#include "log/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <sys/stat.h>
#include <unistd.h>

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

// syslog's priorities, which journald reads from a "<N>" at the start of a line.
int priority(Level level) {
  switch (level) {
  case Level::debug:
    return 7;
  case Level::info:
    return 6;
  case Level::warning:
    return 4;
  case Level::error:
    return 3;
  }
  return 6;
}

// Under systemd, stderr goes to the journal, which keeps its own timestamps and filters by
// priority (journalctl -p warning). systemd says so in JOURNAL_STREAM ("device:inode" of the
// stream); checking it is our stderr keeps a redirected child's log plain.
bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  struct stat info {};
  if (!stream || ::fstat(STDERR_FILENO, &info) != 0) return false;
  unsigned long long device = 0, inode = 0;
  if (std::sscanf(stream, "%llu:%llu", &device, &inode) != 2) return false;
  return device == static_cast<unsigned long long>(info.st_dev) &&
         inode == static_cast<unsigned long long>(info.st_ino);
}
} // namespace

void set_level(Level level) noexcept {
  current.store(level, std::memory_order_relaxed);
}

bool enabled(Level level) noexcept {
  return level >= current.load(std::memory_order_relaxed);
}

void write(Level level, std::string_view component, std::string_view message) {
  static const bool journal = stderr_is_journal();
  if (journal) {
    std::fprintf(stderr, "<%d>%.*s: %.*s\n", priority(level), static_cast<int>(component.size()),
                 component.data(), static_cast<int>(message.size()), message.data());
    return;
  }
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
