#include "rtpmidi/session_packet.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <vector>

using namespace midimesh::rtpmidi;
using Bytes = std::vector<std::uint8_t>;

namespace {

template <typename T> T decoded_as(const Bytes& bytes) {
  const DecodedSession decoded = decode_session(bytes);
  REQUIRE(decoded);
  REQUIRE(std::holds_alternative<T>(*decoded.packet));
  return std::get<T>(*decoded.packet);
}

SessionError error_of(const Bytes& bytes) {
  const DecodedSession decoded = decode_session(bytes);
  REQUIRE_FALSE(decoded);
  return decoded.error;
}

} // namespace

TEST_CASE("an invitation encodes to Apple's layout") {
  const Invitation in{Command::invitation, 2, 0x01020304, 0xa1b2c3d4, "mesh"};
  const Bytes expected = {0xff, 0xff, 'I',  'N',  0,    0,   0,   2,   1,   2, 3,
                          4,    0xa1, 0xb2, 0xc3, 0xd4, 'm', 'e', 's', 'h', 0};
  CHECK(encode(in) == expected);
  CHECK(decoded_as<Invitation>(expected) == in);
}

TEST_CASE("IN, OK, NO and BY round-trip") {
  for (Command command :
       {Command::invitation, Command::accepted, Command::rejected, Command::bye}) {
    const Invitation packet{command, 2, 0xdeadbeef, 0x12345678, "Studio Mac"};
    const Bytes bytes = encode(packet);
    CHECK(bytes.size() == 16 + packet.name.size() + 1);
    CHECK(decoded_as<Invitation>(bytes) == packet);
  }
}

TEST_CASE("NO and BY without a name are 16 bytes; IN keeps its NUL") {
  CHECK(encode(Invitation{Command::bye, 2, 7, 8, ""}).size() == 16);
  CHECK(encode(Invitation{Command::rejected, 2, 7, 8, ""}).size() == 16);
  CHECK(encode(Invitation{Command::invitation, 2, 7, 8, ""}).size() == 17);
  CHECK(encode(Invitation{Command::accepted, 2, 7, 8, ""}).size() == 17);
}

TEST_CASE("a 16-byte BY decodes with an empty name") {
  const Bytes by = {0xff, 0xff, 'B', 'Y', 0, 0, 0, 2, 0, 0, 0, 9, 0, 0, 0, 5};
  const auto packet = decoded_as<Invitation>(by);
  CHECK(packet.command == Command::bye);
  CHECK(packet.token == 9);
  CHECK(packet.ssrc == 5);
  CHECK(packet.name.empty());
}

TEST_CASE("a name without its NUL at the end of the datagram is taken") {
  Bytes bytes = encode(Invitation{Command::rejected, 2, 1, 2, "iPad"});
  bytes.pop_back();
  CHECK(decoded_as<Invitation>(bytes).name == "iPad");
}

TEST_CASE("a name ends at its first NUL") {
  Bytes bytes = encode(Invitation{Command::invitation, 2, 1, 2, "ab"});
  bytes.insert(bytes.end(), {'x', 'y', 0});
  CHECK(decoded_as<Invitation>(bytes).name == "ab");
}

TEST_CASE("an encoded name stops at an embedded NUL") {
  const Invitation packet{Command::invitation, 2, 1, 2, std::string("ab\0cd", 5)};
  CHECK(decoded_as<Invitation>(encode(packet)).name == "ab");
}

TEST_CASE("the npm peer's BY (empty name, one NUL) decodes") {
  // node-rtpmidi allocates 17 + name bytes for BY and leaves the last one zero.
  const Bytes by = {0xff, 0xff, 'B', 'Y', 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0};
  CHECK(decoded_as<Invitation>(by).name.empty());
}

TEST_CASE("another protocol version still decodes") {
  const Invitation packet{Command::invitation, 3, 1, 2, "future"};
  CHECK(decoded_as<Invitation>(encode(packet)).version == 3);
}

TEST_CASE("an invitation shorter than 16 bytes is truncated") {
  Bytes bytes = encode(Invitation{Command::invitation, 2, 1, 2, ""});
  bytes.resize(15);
  CHECK(error_of(bytes) == SessionError::truncated);
}

TEST_CASE("CK round-trips its three 64-bit timestamps") {
  const ClockSync ck{0x01020304, 1, {0x0102030405060708ull, 0xffffffffffffffffull, 0}};
  const Bytes bytes = encode(ck);
  REQUIRE(bytes.size() == 36);
  CHECK(bytes[2] == 'C');
  CHECK(bytes[3] == 'K');
  CHECK(bytes[8] == 1);
  CHECK(bytes[12] == 0x01);
  CHECK(bytes[19] == 0x08);
  CHECK(decoded_as<ClockSync>(bytes) == ck);
}

TEST_CASE("the npm peer's CK with only low 32 bits decodes") {
  Bytes bytes(36, 0);
  bytes[0] = bytes[1] = 0xff;
  bytes[2] = 'C';
  bytes[3] = 'K';
  bytes[7] = 0x2a; // SSRC 42
  bytes[8] = 2;
  bytes[16] = 0x12; // first timestamp: low word 0x12345678
  bytes[17] = 0x34;
  bytes[18] = 0x56;
  bytes[19] = 0x78;
  bytes[35] = 9;
  const auto ck = decoded_as<ClockSync>(bytes);
  CHECK(ck.ssrc == 42);
  CHECK(ck.count == 2);
  CHECK(ck.timestamps[0] == 0x12345678u);
  CHECK(ck.timestamps[1] == 0);
  CHECK(ck.timestamps[2] == 9);
}

TEST_CASE("a CK count above 2 is malformed") {
  Bytes bytes = encode(ClockSync{1, 0, {}});
  bytes[8] = 3;
  CHECK(error_of(bytes) == SessionError::malformed);
}

TEST_CASE("a short CK is truncated") {
  Bytes bytes = encode(ClockSync{1, 0, {1, 2, 3}});
  bytes.pop_back();
  CHECK(error_of(bytes) == SessionError::truncated);
}

TEST_CASE("RS round-trips") {
  const ReceiverFeedback rs{0xcafebabe, 0xfffe};
  const Bytes bytes = encode(rs);
  CHECK(bytes == Bytes{0xff, 0xff, 'R', 'S', 0xca, 0xfe, 0xba, 0xbe, 0xff, 0xfe, 0, 0});
  CHECK(decoded_as<ReceiverFeedback>(bytes) == rs);
  CHECK(error_of(Bytes(bytes.begin(), bytes.begin() + 9)) == SessionError::truncated);
}

TEST_CASE("what is not a session packet says so") {
  CHECK_FALSE(is_session_packet(Bytes{}));
  CHECK_FALSE(is_session_packet(Bytes{0xff}));
  CHECK_FALSE(is_session_packet(Bytes{0x80, 0x61, 0, 1}));
  CHECK(is_session_packet(Bytes{0xff, 0xff}));
  CHECK(error_of(Bytes{0x80, 0x61, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}) == SessionError::not_session);
  CHECK(error_of(Bytes{}) == SessionError::not_session);
  CHECK(error_of(Bytes{0xff, 0xff, 'I'}) == SessionError::truncated);
  CHECK(error_of(Bytes{0xff, 0xff, 'Z', 'Z', 0, 0, 0, 2}) == SessionError::unknown_command);
}

TEST_CASE("every error has a description") {
  for (SessionError e : {SessionError::not_session, SessionError::truncated,
                         SessionError::unknown_command, SessionError::malformed})
    CHECK_FALSE(describe(e).empty());
}

TEST_CASE("every prefix and random bytes decode without harm") {
  const std::vector<Bytes> valid = {encode(Invitation{Command::invitation, 2, 1, 2, "name"}),
                                    encode(ClockSync{1, 2, {3, 4, 5}}),
                                    encode(ReceiverFeedback{1, 2})};
  for (const Bytes& bytes : valid)
    for (std::size_t n = 0; n <= bytes.size(); ++n)
      (void)decode_session(std::span(bytes.data(), n));

  std::mt19937 random(6295);
  std::size_t decoded = 0;
  for (int i = 0; i < 10000; ++i) {
    Bytes bytes(random() % 48);
    for (auto& b : bytes)
      b = static_cast<std::uint8_t>(random());
    // Most random buffers lack the signature; give half of them one and a known command.
    if (i % 2 == 0 && bytes.size() >= 4) {
      static const char* commands[] = {"IN", "OK", "NO", "BY", "CK", "RS"};
      const char* c = commands[random() % 6];
      bytes[0] = bytes[1] = 0xff;
      bytes[2] = static_cast<std::uint8_t>(c[0]);
      bytes[3] = static_cast<std::uint8_t>(c[1]);
    }
    if (decode_session(bytes)) ++decoded;
  }
  CHECK(decoded > 0);
}
