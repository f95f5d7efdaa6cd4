#pragma once
// A non-blocking, close-on-exec pipe (POSIX only): pipe2 on Linux, pipe + fcntl elsewhere.

namespace midimesh::platform {

// fds[0] reads, fds[1] writes. Throws std::system_error.
void make_pipe(int fds[2]);

} // namespace midimesh::platform
