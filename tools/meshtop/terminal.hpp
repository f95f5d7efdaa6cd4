#pragma once
// What meshtop asks of the terminal and the system, per platform: terminal_posix.cpp, and
// terminal_windows.cpp (a Windows console).

#include <csignal>
#include <string>

namespace midimesh::meshtop {

// The terminal's width in columns, or 120 when stdout is no terminal.
int terminal_width();
bool stdin_is_terminal();
// Full-screen mode owns the terminal: log lines would scribble over it. They go to the file at
// `path`, or nowhere when it is empty.
void move_log_away(const std::string& path);
// Sets `flag` on Ctrl-C, SIGTERM or SIGHUP (Windows: Ctrl-C, Ctrl-Break, a closed console);
// a closed pipe shows as a failed write instead of a signal.
void catch_stop_requests(volatile std::sig_atomic_t& flag);

} // namespace midimesh::meshtop
