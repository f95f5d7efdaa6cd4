#pragma once
// One line per event on stderr: "time level component: message". Every line about a peer names
// it and says what happens next.

#include <fmt/format.h>
#include <string_view>

namespace midimesh::log {

enum class Level { debug = 0, info = 1, warning = 2, error = 3 };

void set_level(Level level) noexcept;
bool enabled(Level level) noexcept;
void write(Level level, std::string_view component, std::string_view message);
// Parses "debug", "info", "warning"/"warn", "error"; false when unknown.
bool parse_level(std::string_view text, Level& out) noexcept;

template <typename... Args>
void debug(std::string_view component, fmt::format_string<Args...> fmt, Args&&... args) {
  if (enabled(Level::debug))
    write(Level::debug, component, fmt::format(fmt, std::forward<Args>(args)...));
}
template <typename... Args>
void info(std::string_view component, fmt::format_string<Args...> fmt, Args&&... args) {
  if (enabled(Level::info))
    write(Level::info, component, fmt::format(fmt, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(std::string_view component, fmt::format_string<Args...> fmt, Args&&... args) {
  if (enabled(Level::warning))
    write(Level::warning, component, fmt::format(fmt, std::forward<Args>(args)...));
}
template <typename... Args>
void error(std::string_view component, fmt::format_string<Args...> fmt, Args&&... args) {
  if (enabled(Level::error))
    write(Level::error, component, fmt::format(fmt, std::forward<Args>(args)...));
}

} // namespace midimesh::log
