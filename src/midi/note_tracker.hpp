#pragma once
// Which notes each sender holds sounding on our outputs, so that they can be released when the
// sender leaves or this node shuts down. Pure code: feed it what is written to the outputs,
// ask it what to send to silence them.

#include <array>
#include <bitset>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace midimesh::midi {

using Message = std::vector<std::uint8_t>;

class NoteTracker {
public:
  // Records a message `source` has just had written to an output.
  void observe(const std::string& source, std::span<const std::uint8_t> message);

  // The messages that silence everything `source` still holds: a note-off per held note, and
  // sustain off on channels where it holds the pedal down. Forgets the source.
  std::vector<Message> release(const std::string& source);
  // The same for every source (shutdown).
  std::vector<Message> release_all();

  std::size_t held_notes(const std::string& source) const;
  std::size_t held_notes() const;

private:
  struct Held {
    std::array<std::bitset<128>, 16> notes;
    std::bitset<16> sustain;
    bool empty() const;
  };
  static void append_release(const Held& held, std::vector<Message>& out);
  std::map<std::string, Held, std::less<>> held_;
};

} // namespace midimesh::midi
