#include "terminal.hpp"

#include <cstdio>
#include <io.h>
#include <windows.h>

namespace midimesh::meshtop {
namespace {
volatile std::sig_atomic_t* stop_flag = nullptr;

// Runs on a thread of its own; the loop polls with a short timeout and sees the flag.
BOOL WINAPI on_console_event(DWORD) {
  *stop_flag = 1;
  return TRUE;
}
} // namespace

int terminal_width() {
  CONSOLE_SCREEN_BUFFER_INFO info{};
  if (::GetConsoleScreenBufferInfo(::GetStdHandle(STD_OUTPUT_HANDLE), &info))
    return info.srWindow.Right - info.srWindow.Left + 1;
  return 120;
}

bool stdin_is_terminal() {
  return ::_isatty(::_fileno(stdin));
}

void move_log_away(const std::string& path) {
  (void)std::freopen(path.empty() ? "NUL" : path.c_str(), "a", stderr);
}

void catch_stop_requests(volatile std::sig_atomic_t& flag) {
  stop_flag = &flag;
  ::SetConsoleCtrlHandler(on_console_event, TRUE);
}

} // namespace midimesh::meshtop
