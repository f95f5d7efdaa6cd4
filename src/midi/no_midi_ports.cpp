// The MIDI backend of a build without RtMidi (meson -Dmidi=disabled): a headless hub.
#include "midi/midi_ports.hpp"
#include "midi/socket_ports.hpp"

namespace midimesh::midi {

std::unique_ptr<MidiPorts> open_midi_ports(const MidiConfig& config) {
  if (config.api == socket_api_name) return open_socket_ports(config);
  throw MidiError("this midimesh was built without MIDI support (meson -Dmidi=disabled)");
}

bool list_midi_ports(const std::string&, std::ostream& out) {
  out << "no MIDI backend: this midimesh was built without MIDI support\n";
  return false;
}

} // namespace midimesh::midi
