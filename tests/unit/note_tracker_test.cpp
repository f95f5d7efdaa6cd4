#include "midi/note_tracker.hpp"

#include <algorithm>
#include <catch2/catch.hpp>

using midimesh::midi::Message;
using midimesh::midi::NoteTracker;

namespace {
void play(NoteTracker& tracker, const std::string& source, Message message) {
  tracker.observe(source, message);
}
} // namespace

TEST_CASE("held notes are released with note-offs, then the source is forgotten") {
  NoteTracker tracker;
  play(tracker, "a", {0x90, 60, 100});
  play(tracker, "a", {0x91, 64, 1});
  CHECK(tracker.held_notes("a") == 2);
  CHECK(tracker.held_notes() == 2);

  const auto release = tracker.release("a");
  CHECK(release == std::vector<Message>{{0x80, 60, 0}, {0x81, 64, 0}});
  CHECK(tracker.held_notes("a") == 0);
  CHECK(tracker.release("a").empty());
}

TEST_CASE("note-off and note-on with velocity 0 both end a note") {
  NoteTracker tracker;
  play(tracker, "a", {0x90, 60, 100});
  play(tracker, "a", {0x90, 62, 100});
  play(tracker, "a", {0x80, 60, 64});
  play(tracker, "a", {0x90, 62, 0});
  CHECK(tracker.held_notes("a") == 0);
  CHECK(tracker.release("a").empty());
}

TEST_CASE("a note-off on another channel does not end the note") {
  NoteTracker tracker;
  play(tracker, "a", {0x90, 60, 100});
  play(tracker, "a", {0x81, 60, 0});
  CHECK(tracker.held_notes("a") == 1);
}

TEST_CASE("sources are tracked apart") {
  NoteTracker tracker;
  play(tracker, "a", {0x90, 60, 100});
  play(tracker, "b", {0x90, 60, 100});
  play(tracker, "b", {0x90, 61, 100});
  play(tracker, "a", {0x80, 61, 0}); // a never held 61: b keeps it
  CHECK(tracker.held_notes("a") == 1);
  CHECK(tracker.held_notes("b") == 2);
  CHECK(tracker.held_notes() == 3);

  CHECK(tracker.release("b") == std::vector<Message>{{0x80, 60, 0}, {0x80, 61, 0}});
  CHECK(tracker.held_notes("a") == 1);
  CHECK(tracker.held_notes() == 1);
}

TEST_CASE("sustain is released after the notes of its channel") {
  NoteTracker tracker;
  play(tracker, "a", {0xB2, 64, 127});
  play(tracker, "a", {0x92, 60, 100});
  play(tracker, "a", {0x90, 50, 100});
  CHECK(tracker.release("a") == std::vector<Message>{{0x80, 50, 0}, {0x82, 60, 0}, {0xB2, 64, 0}});
}

TEST_CASE("sustain alone is remembered and released") {
  NoteTracker tracker;
  play(tracker, "a", {0xB0, 64, 64});
  CHECK(tracker.held_notes("a") == 0);
  CHECK(tracker.release("a") == std::vector<Message>{{0xB0, 64, 0}});
}

TEST_CASE("sustain off below 64 forgets the pedal") {
  NoteTracker tracker;
  play(tracker, "a", {0xB0, 64, 127});
  play(tracker, "a", {0xB0, 64, 63});
  CHECK(tracker.release("a").empty());
}

TEST_CASE("all notes off and all sound off forget the channel's notes but not the pedal") {
  NoteTracker tracker;
  play(tracker, "a", {0xB0, 64, 127});
  play(tracker, "a", {0x90, 60, 100});
  play(tracker, "a", {0x91, 61, 100});
  play(tracker, "a", {0xB0, 123, 0});
  CHECK(tracker.held_notes("a") == 1);
  play(tracker, "a", {0xB1, 120, 0});
  CHECK(tracker.held_notes("a") == 0);
  CHECK(tracker.release("a") == std::vector<Message>{{0xB0, 64, 0}});
}

TEST_CASE("messages that hold nothing are ignored") {
  NoteTracker tracker;
  play(tracker, "a", {0xB0, 7, 100});     // volume
  play(tracker, "a", {0xA0, 60, 10});     // poly pressure
  play(tracker, "a", {0xC0, 5});          // program change
  play(tracker, "a", {0xF8});             // clock
  play(tracker, "a", {0xF0, 0x90, 0xF7}); // SysEx, even one that looks like a note
  play(tracker, "a", {0x90, 60});         // truncated note-on
  CHECK(tracker.held_notes() == 0);
  CHECK(tracker.release("a").empty());
  CHECK(tracker.release_all().empty());
}

TEST_CASE("release_all silences every source and forgets them") {
  NoteTracker tracker;
  play(tracker, "a", {0x90, 60, 100});
  play(tracker, "b", {0x9F, 127, 100});
  play(tracker, "b", {0xBF, 64, 100});
  auto all = tracker.release_all();
  std::sort(all.begin(), all.end());
  CHECK(all == std::vector<Message>{{0x80, 60, 0}, {0x8F, 127, 0}, {0xBF, 64, 0}});
  CHECK(tracker.held_notes() == 0);
  CHECK(tracker.release_all().empty());
}

TEST_CASE("every note on every channel can be held and released") {
  NoteTracker tracker;
  for (std::uint8_t channel = 0; channel < 16; ++channel)
    for (std::uint8_t note = 0; note < 128; ++note)
      play(tracker, "a", {static_cast<std::uint8_t>(0x90 | channel), note, 1});
  CHECK(tracker.held_notes("a") == 16 * 128);
  const auto release = tracker.release("a");
  CHECK(release.size() == 16 * 128);
  CHECK(release.front() == Message{0x80, 0, 0});
  CHECK(release.back() == Message{0x8F, 127, 0});
}
