#pragma once
// A MIDI backend for tests and benchmarks only: MIDI in and out over Unix sockets, so a program
// can play into a real midimesh node and hear what it plays without ALSA or JACK.
// Never tried by default; chosen with --midi-api socket --port-name PATH.

#include "midi/midi_ports.hpp"

namespace midimesh::midi {

// The api name that selects this backend.
inline constexpr const char* socket_api_name = "socket";

// PATH being config.port_name: listens on the SOCK_SEQPACKET Unix socket PATH-in, where any
// number of writers connect and send one MIDI message per packet; plays each message as one
// packet to the reader listening on PATH-out, connecting to it when it first plays (a message
// played while no reader listens is refused). Throws MidiError when PATH-in cannot be bound.
std::unique_ptr<MidiPorts> open_socket_ports(const MidiConfig& config);

} // namespace midimesh::midi
