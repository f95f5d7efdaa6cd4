#pragma once
// zmq_poll items for the event loops. A plain fd is an int everywhere in midimesh; on Windows
// zmq_poll takes a SOCKET there (64 bits wide, though its value fits in 32: Windows keeps handles
// 32-bit significant), and only a socket: files and pipes cannot be polled.

#include <zmq.h>

namespace midimesh::platform {

// Readable when the ZeroMQ socket is; an item that never fires when `socket` is null (a role
// not taken yet), so the loop's indexes stay fixed: poll() skips a negative fd, and Windows'
// zmq_poll an item that asks for no events.
inline zmq_pollitem_t socket_item(void* socket) {
  return {socket, static_cast<zmq_fd_t>(-1), static_cast<short>(socket ? ZMQ_POLLIN : 0), 0};
}

// Readable when the fd (on Windows: the socket) is.
inline zmq_pollitem_t fd_item(int fd) {
  return {nullptr, static_cast<zmq_fd_t>(fd), ZMQ_POLLIN, 0};
}

} // namespace midimesh::platform
