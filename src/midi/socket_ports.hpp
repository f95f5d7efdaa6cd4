#pragma once
// A MIDI backend for tests and benchmarks only: MIDI in and out over ZeroMQ ipc sockets, so a
// program can play into a real midimesh node and hear what it plays without ALSA or JACK.
// Never tried by default; chosen with --midi-api socket --port-name PATH.

#include "midi/midi_ports.hpp"

namespace midimesh::midi {

// The api name that selects this backend.
inline constexpr const char* socket_api_name = "socket";

// Binds a PULL at ipc://PATH-in (one MIDI message per ZeroMQ message) and a PUSH at
// ipc://PATH-out (each message played), PATH being config.port_name. Throws MidiError when
// either cannot be bound.
std::unique_ptr<MidiPorts> open_socket_ports(const MidiConfig& config);

} // namespace midimesh::midi
