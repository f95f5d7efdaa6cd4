// The socket MIDI backend that tests and benchmarks play through: what it takes in, what it
// plays out, and what it refuses, on real Unix sockets.

#include "midi/socket_ports.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

using namespace midimesh;
using Bytes = std::vector<std::uint8_t>;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char name[] = "/tmp/socket-ports-test-XXXXXX";
    REQUIRE(::mkdtemp(name));
    path = name;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

sockaddr_un address_of(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  path.copy(a.sun_path, sizeof a.sun_path - 1);
  return a;
}

int connected(int type, const std::string& path) {
  const int fd = ::socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  const sockaddr_un a = address_of(path);
  REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

int listening(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_un a = address_of(path);
  REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, 1) == 0);
  return fd;
}

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 5000) == 1;
}

// The next length-prefixed message from a stream (blocking).
Bytes read_message(int fd) {
  std::uint8_t prefix[4];
  REQUIRE(::recv(fd, prefix, 4, MSG_WAITALL) == 4);
  const std::size_t length = prefix[0] | prefix[1] << 8 | prefix[2] << 16 | prefix[3] << 24;
  Bytes message(length);
  REQUIRE(::recv(fd, message.data(), length, MSG_WAITALL) == static_cast<ssize_t>(length));
  return message;
}

} // namespace

TEST_CASE("socket ports hand over every packet written to the input, in order", "[socket_ports]") {
  TempDir dir;
  midi::MidiConfig config;
  config.port_name = dir.path + "/node";
  auto ports = midi::open_socket_ports(config);
  const int writer = connected(SOCK_SEQPACKET, dir.path + "/node-in");
  const Bytes a{0x90, 0x3C, 0x64}, b{0xF8}, big = [] {
    Bytes sysex(70'000, 0x01);
    sysex.front() = 0xF0;
    sysex.back() = 0xF7;
    return sysex;
  }();
  for (const Bytes* m : {&a, &b, &big})
    REQUIRE(::send(writer, m->data(), m->size(), 0) == static_cast<ssize_t>(m->size()));
  std::vector<Bytes> got;
  for (int turn = 0; turn < 10 && got.size() < 3; ++turn) {
    REQUIRE(readable(ports->input_fd()));
    ports->take_input(got);
  }
  CHECK(got == std::vector<Bytes>{a, b, big});
  CHECK(ports->input_stats().received == 3);
  ::close(writer);
}

TEST_CASE("socket ports play to the listening reader, and refuse when there is none",
          "[socket_ports]") {
  TempDir dir;
  midi::MidiConfig config;
  config.port_name = dir.path + "/node";
  auto ports = midi::open_socket_ports(config);
  const Bytes note{0x90, 0x3C, 0x64}, off{0x80, 0x3C, 0x00};
  CHECK(ports->send(note) == midi::SendResult::failed); // nobody listens yet
  CHECK(ports->send(Bytes{}) == midi::SendResult::failed);
  CHECK(ports->send(Bytes(ports->max_message_size() + 1, 0)) == midi::SendResult::too_large);

  const int listener = listening(dir.path + "/node-out");
  CHECK(ports->send(note) == midi::SendResult::sent);
  CHECK(ports->send(off) == midi::SendResult::sent);
  CHECK(ports->flush() == 0);
  const int reader = ::accept(listener, nullptr, nullptr);
  REQUIRE(reader >= 0);
  CHECK(read_message(reader) == note);
  CHECK(read_message(reader) == off);

  SECTION("a reader that stops reading gets refusals once 8 MiB wait, never a block") {
    const Bytes chunk(16'000, 0x01);
    std::size_t sent = 0;
    while (sent < 2'000 && ports->send(chunk) == midi::SendResult::sent) {
      ++sent;
      (void)ports->flush();
    }
    CHECK(sent < 2'000); // refused before 32 MB
    CHECK(sent * chunk.size() >= 8 * 1024 * 1024);
    SECTION("and what it leaves unread when it goes is counted as lost") {
      ::close(reader);
      std::size_t lost = 0;
      for (int turn = 0; turn < 10 && lost == 0; ++turn)
        lost += ports->flush();
      CHECK(lost > 0);
      CHECK(lost <= sent);
    }
  }
  ::close(listener);
}
