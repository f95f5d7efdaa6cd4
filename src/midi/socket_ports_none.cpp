// The socket backend (tests and benchmarks) uses Linux's SOCK_SEQPACKET and epoll; elsewhere
// asking for it says so.
#include "midi/socket_ports.hpp"

namespace midimesh::midi {

std::unique_ptr<MidiPorts> open_socket_ports(const MidiConfig&) {
  throw MidiError("the socket MIDI backend (for tests) is built on Linux only");
}

} // namespace midimesh::midi
