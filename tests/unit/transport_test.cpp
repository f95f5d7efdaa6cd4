// --connect's HOST[:PORT] and the endpoints made from it.

#include "wire/transport.hpp"

#include <catch2/catch.hpp>

using namespace midimesh::wire;

TEST_CASE("host, host:port and bracketed IPv6 parse; endpoints use base and base + 1") {
  auto plain = parse_host_port("stage.local");
  REQUIRE(plain);
  CHECK(plain->host == "stage.local");
  CHECK(plain->port == default_port);
  CHECK(publish_endpoint(*plain) == "tcp://stage.local:8141");
  CHECK(subscribe_endpoint(*plain) == "tcp://stage.local:8142");

  auto with_port = parse_host_port("127.0.0.1:9000");
  REQUIRE(with_port);
  CHECK(with_port->port == 9000);

  auto v6 = parse_host_port("[::1]:9000");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(subscribe_endpoint(*v6) == "tcp://[::1]:9001");
}

TEST_CASE("bad addresses are refused") {
  for (const char* text :
       {"", ":8141", "host:", "host:0", "host:65535", "host:80x", "::1", "[::1", "[]:80", "[::1]x"})
    CHECK_FALSE(parse_host_port(text));
}

TEST_CASE("the address a node announces is the one its route to the hub leaves from") {
  CHECK(local_address_towards("127.0.0.1") == "127.0.0.1");
  CHECK(local_address_towards("not a host name") == "");
}

TEST_CASE("loopback counts as wired (one connection to the hub); an unknown host does not") {
#ifdef __linux__
  CHECK(wired_towards("127.0.0.1"));
  CHECK(wired_towards("::ffff:127.0.0.1")); // how a dual-stack ZeroMQ endpoint names it
#endif
  CHECK_FALSE(wired_towards("not a host name"));
}
