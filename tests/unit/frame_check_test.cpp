// What the hub forwards and what it refuses, decided from the frames alone.

#include "hub/frame_check.hpp"
#include "wire/envelope.hpp"

#include <catch2/catch.hpp>

using namespace midimesh;
using Bytes = std::vector<std::uint8_t>;

namespace {
const std::string id = "00000000000000aa";
Bytes topic(const std::string& text) {
  return Bytes(text.begin(), text.end());
}
Bytes envelope_from(const std::string& sender, std::uint32_t version = wire::protocol_version) {
  wire::Envelope e;
  e.version = version;
  e.type = static_cast<std::uint8_t>(wire::MessageType::midi);
  e.sender = sender;
  e.payload = {0x90, 0x3C, 0x64};
  return wire::encode(e);
}
} // namespace

TEST_CASE("a well-formed message whose topic is its sender is forwarded") {
  CHECK(hub::check_message(2, topic(id), envelope_from(id)) == hub::Verdict::forward);
}

TEST_CASE("a topic that is not the sender would defeat the sender filter: refused") {
  CHECK(hub::check_message(2, topic("00000000000000bb"), envelope_from(id)) ==
        hub::Verdict::spoofed_sender);
  CHECK(hub::check_message(2, topic(""), envelope_from(id)) == hub::Verdict::spoofed_sender);
  CHECK(hub::check_message(2, topic(id + "x"), envelope_from(id)) == hub::Verdict::spoofed_sender);
}

TEST_CASE("frame counts other than two are refused") {
  CHECK(hub::check_message(1, topic(id), {}) == hub::Verdict::wrong_frame_count);
  CHECK(hub::check_message(3, topic(id), envelope_from(id)) == hub::Verdict::wrong_frame_count);
}

TEST_CASE("garbage, other versions and oversized frames are refused with their reason") {
  CHECK(hub::check_message(2, topic(id), Bytes{0xDE, 0xAD}) == hub::Verdict::malformed);
  CHECK(hub::check_message(2, topic(id), envelope_from(id, 2)) == hub::Verdict::version_mismatch);
  CHECK(hub::check_message(2, topic(id), Bytes(wire::max_frame_size + 1, 0x90)) ==
        hub::Verdict::too_large);
}

TEST_CASE("status reports go to the monitor port, not to the nodes") {
  wire::Envelope e;
  e.type = static_cast<std::uint8_t>(wire::MessageType::status);
  e.sender = id;
  CHECK(hub::check_message(2, topic(id), wire::encode(e)) == hub::Verdict::to_monitors);
}
