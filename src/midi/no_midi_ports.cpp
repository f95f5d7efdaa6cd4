// The MIDI backend of a build without RtMidi (meson -Dmidi=disabled): a headless hub.
#include "midi/midi_ports.hpp"

namespace midimesh::midi {

std::unique_ptr<MidiPorts> open_midi_ports(const MidiConfig&) {
  throw MidiError("this midimesh was built without MIDI support (meson -Dmidi=disabled)");
}

bool list_midi_ports(const std::string&, std::ostream& out) {
  out << "no MIDI backend: this midimesh was built without MIDI support\n";
  return false;
}

} // namespace midimesh::midi
