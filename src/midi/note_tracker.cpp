#include "midi/note_tracker.hpp"

namespace midimesh::midi {
namespace {
constexpr std::uint8_t note_off = 0x80, note_on = 0x90, control_change = 0xB0;
constexpr std::uint8_t cc_sustain = 64, cc_all_sound_off = 120, cc_all_notes_off = 123;
} // namespace

bool NoteTracker::Held::empty() const {
  if (sustain.any()) return false;
  for (const auto& channel : notes)
    if (channel.any()) return false;
  return true;
}

void NoteTracker::observe(const std::string& source, std::span<const std::uint8_t> m) {
  if (m.size() != 3 || m[0] < 0x80 || m[0] >= 0xF0) return;
  const std::uint8_t kind = m[0] & 0xF0, channel = m[0] & 0x0F, data1 = m[1] & 0x7F;
  if (kind == note_on && m[2] > 0) {
    held_[source].notes[channel].set(data1);
    return;
  }
  auto it = held_.find(source);
  const bool releases =
      kind == note_off || kind == note_on ||
      (kind == control_change &&
       (data1 == cc_sustain || data1 == cc_all_notes_off || data1 == cc_all_sound_off));
  if (kind == control_change && data1 == cc_sustain && m[2] >= 64) {
    held_[source].sustain.set(channel);
    return;
  }
  if (!releases || it == held_.end()) return;
  Held& held = it->second;
  if (kind == note_off || kind == note_on)
    held.notes[channel].reset(data1);
  else if (data1 == cc_sustain)
    held.sustain.reset(channel);
  else
    held.notes[channel].reset(); // all notes off / all sound off: the synth silenced them
  if (held.empty()) held_.erase(it);
}

void NoteTracker::append_release(const Held& held, std::vector<Message>& out) {
  for (std::uint8_t channel = 0; channel < 16; ++channel) {
    for (std::uint8_t note = 0; note < 128; ++note)
      if (held.notes[channel].test(note))
        out.push_back({static_cast<std::uint8_t>(note_off | channel), note, 0});
    // Sustain off after the note-offs, or the pedal would keep them sounding.
    if (held.sustain.test(channel))
      out.push_back({static_cast<std::uint8_t>(control_change | channel), cc_sustain, 0});
  }
}

std::vector<Message> NoteTracker::release(const std::string& source) {
  std::vector<Message> out;
  auto it = held_.find(source);
  if (it == held_.end()) return out;
  append_release(it->second, out);
  held_.erase(it);
  return out;
}

std::vector<Message> NoteTracker::release_all() {
  std::vector<Message> out;
  for (const auto& [source, held] : held_)
    append_release(held, out);
  held_.clear();
  return out;
}

std::size_t NoteTracker::held_notes(const std::string& source) const {
  auto it = held_.find(source);
  if (it == held_.end()) return 0;
  std::size_t n = 0;
  for (const auto& channel : it->second.notes)
    n += channel.count();
  return n;
}

std::size_t NoteTracker::held_notes() const {
  std::size_t n = 0;
  for (const auto& [source, held] : held_)
    n += held_notes(source);
  return n;
}

} // namespace midimesh::midi
