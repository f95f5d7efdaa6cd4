// Windows has no signals to speak of: a console process learns of Ctrl-C, Ctrl-Break and a closed
// window through a console control handler, which Windows runs on a thread of its own. The
// handler sends a datagram on a loopback socket pair (zmq_poll polls sockets only there).
#include "node/signals.hpp"
#include "platform/sockets.hpp"

#include <windows.h>

namespace midimesh::node {
namespace {
int pair_fds[2] = {-1, -1};
// Set once the node has said goodbye (~SignalPipe): Windows ends the process as soon as the
// handler of a closed window returns, so that handler waits for it (Windows allows 5 s).
HANDLE left = nullptr;

BOOL WINAPI on_console_event(DWORD event) {
  const char byte = 1;
  (void)::send(static_cast<SOCKET>(pair_fds[1]), &byte, 1, 0);
  if (event == CTRL_CLOSE_EVENT || event == CTRL_LOGOFF_EVENT || event == CTRL_SHUTDOWN_EVENT)
    ::WaitForSingleObject(left, 4000);
  return TRUE;
}
} // namespace

SignalPipe::SignalPipe() {
  platform::make_socket_pair(pair_fds);
  left = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
  ::SetConsoleCtrlHandler(on_console_event, TRUE);
}

SignalPipe::~SignalPipe() {
  ::SetEvent(left);
  ::SetConsoleCtrlHandler(on_console_event, FALSE);
  platform::close_socket(pair_fds[0]);
  platform::close_socket(pair_fds[1]);
}

int SignalPipe::fd() const noexcept {
  return pair_fds[0];
}

SignalPipe::Request SignalPipe::take() noexcept {
  char byte = 0;
  return ::recv(static_cast<SOCKET>(pair_fds[0]), &byte, 1, 0) == 1 ? Request::stop : Request::none;
}

} // namespace midimesh::node
