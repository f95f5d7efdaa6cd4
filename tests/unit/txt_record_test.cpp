#include "discovery/txt_record.hpp"

#include <algorithm>
#include <catch2/catch.hpp>

using namespace midimesh::discovery;

namespace {

NodeRecord sample() {
  NodeRecord r;
  r.id = "0123456789abcdef";
  r.name = "Anna's laptop";
  r.mesh = "rehearsal";
  r.priority = -3;
  r.eligible = false;
  r.role = "hub";
  r.hub_id = "fedcba9876543210";
  r.term = 18446744073709551615ull;
  r.port = 8141;
  r.revision = 42;
  return r;
}

std::vector<std::string> without(std::vector<std::string> entries, const std::string& key) {
  entries.erase(std::remove_if(entries.begin(), entries.end(),
                               [&](const std::string& e) { return e.rfind(key + "=", 0) == 0; }),
                entries.end());
  return entries;
}

std::vector<std::string> with(std::vector<std::string> entries, const std::string& key,
                              const std::string& value) {
  for (auto& e : entries)
    if (e.rfind(key + "=", 0) == 0) e = key + "=" + value;
  return entries;
}

} // namespace

TEST_CASE("a record survives encode and decode", "[txt]") {
  const NodeRecord r = sample();
  const TxtDecode d = decode_txt(encode_txt(r));
  REQUIRE(d.ok());
  CHECK(d.record == r);

  NodeRecord plain;
  plain.id = "00000000000000ff";
  const TxtDecode p = decode_txt(encode_txt(plain));
  REQUIRE(p.ok());
  CHECK(p.record == plain);
}

TEST_CASE("the record is small and its keys short", "[txt]") {
  const auto entries = encode_txt(sample());
  const std::string wire = txt_to_wire(entries);
  CHECK(wire.size() < 160);
  for (const auto& e : entries)
    CHECK(e.find('=') <= 5);
}

TEST_CASE("required keys are required", "[txt]") {
  const auto entries = encode_txt(sample());
  for (const char* key : {"proto", "id", "mesh", "role"}) {
    const TxtDecode d = decode_txt(without(entries, key));
    INFO(key);
    CHECK_FALSE(d.ok());
    CHECK(d.problem == std::string("missing key '") + key + "'");
  }
  CHECK_FALSE(decode_txt({}).ok());
}

TEST_CASE("optional keys take their defaults", "[txt]") {
  const TxtDecode d =
      decode_txt({"proto=1", "id=0123456789ABCDEF", "mesh=default", "role=observer"});
  REQUIRE(d.ok());
  CHECK(d.record.id == "0123456789abcdef"); // ids compare in lower case
  CHECK(d.record.name.empty());
  CHECK(d.record.priority == 0);
  CHECK(d.record.eligible);
  CHECK(d.record.hub_id.empty());
  CHECK(d.record.term == 0);
  CHECK(d.record.port == 0);
  CHECK(d.record.revision == 0); // a build without the key: every record counts as revision 0
}

TEST_CASE("malformed values are problems, never exceptions", "[txt]") {
  const auto entries = encode_txt(sample());
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"proto", "one"}, {"proto", "-1"},  {"id", "0123"},    {"id", "0123456789abcdeg"},
      {"role", "boss"}, {"prio", "high"}, {"prio", "1.5"},   {"elig", "yes"},
      {"hub", "xyz"},   {"term", "-1"},   {"port", "65536"}, {"port", "80a"},
      {"rev", "-2"},    {"rev", "x"},     {"mesh", ""},      {"mesh", std::string(201, 'm')}};
  for (const auto& [key, value] : bad) {
    INFO(key << "=" << value);
    const TxtDecode d = decode_txt(with(entries, key, value));
    CHECK_FALSE(d.ok());
    CHECK(d.problem.find(key) != std::string::npos);
  }
}

TEST_CASE("unknown keys are ignored, the first of a repeated key counts", "[txt]") {
  auto entries = encode_txt(sample());
  entries.insert(entries.begin(), "future=whatever");
  entries.push_back("flag");
  entries.push_back("=orphan");
  entries.push_back("role=node");
  entries.push_back("ROLE=observer");
  const TxtDecode d = decode_txt(entries);
  REQUIRE(d.ok());
  CHECK(d.record == sample());
}

TEST_CASE("keys match without regard to case", "[txt]") {
  const TxtDecode d = decode_txt({"PROTO=1", "Id=0123456789abcdef", "Mesh=a", "ROLE=node"});
  REQUIRE(d.ok());
  CHECK(d.record.mesh == "a");
}

TEST_CASE("another protocol version keeps only id and mesh", "[txt]") {
  const TxtDecode d =
      decode_txt({"proto=2", "id=0123456789abcdef", "mesh=a", "role=something-new"});
  CHECK_FALSE(d.ok());
  CHECK(d.problem == "protocol version 2 (this build speaks 1)");
  CHECK(d.record.protocol == 2);
  CHECK(d.record.id == "0123456789abcdef");
  CHECK(d.record.mesh == "a");
}

TEST_CASE("a long name is cut at a character boundary", "[txt]") {
  NodeRecord r = sample();
  r.name.clear();
  for (int i = 0; i < 100; ++i)
    r.name += "\xC3\xA9"; // é, two bytes each: 200 bytes
  r.name += "x";          // 201 bytes
  for (int i = 0; i < 30; ++i)
    r.name += "\xE2\x82\xAC"; // €, three bytes each: 291 bytes, too long for one string
  const auto entries = encode_txt(r);
  const auto& name = entries.at(4);
  REQUIRE(name.rfind("name=", 0) == 0);
  CHECK(name.size() <= 255);
  CHECK(name.size() >= 253);
  // The cut left whole characters only: the last byte ends a 3-byte sequence.
  const std::string value = name.substr(5);
  CHECK(r.name.rfind(value, 0) == 0);
  CHECK((value.size() - 201) % 3 == 0);
  const TxtDecode d = decode_txt(entries);
  REQUIRE(d.ok());
  CHECK(d.record.name == value);
}

TEST_CASE("wire form: length-prefixed strings", "[txt]") {
  const std::vector<std::string> entries = {"a=1", "bb=", "c"};
  const std::string wire = txt_to_wire(entries);
  CHECK(wire == std::string("\x03"
                            "a=1"
                            "\x03"
                            "bb="
                            "\x01"
                            "c"));
  CHECK(txt_from_wire(wire.data(), wire.size()) == entries);

  CHECK(txt_to_wire({}) == std::string(1, '\0'));
  CHECK(txt_from_wire("\0", 1).empty());
  CHECK(txt_from_wire(nullptr, 0).empty());

  // A length that runs past the end ends the list; what came before is kept.
  const std::string truncated("\x03"
                              "a=1"
                              "\x09"
                              "b=2",
                              8);
  CHECK(txt_from_wire(truncated.data(), truncated.size()) == std::vector<std::string>{"a=1"});

  const std::string full = txt_to_wire(encode_txt(sample()));
  const TxtDecode d = decode_txt(txt_from_wire(full.data(), full.size()));
  REQUIRE(d.ok());
  CHECK(d.record == sample());
}

TEST_CASE("a string longer than 255 bytes is cut on the wire", "[txt]") {
  const std::string wire = txt_to_wire({std::string(300, 'k')});
  REQUIRE(wire.size() == 256);
  CHECK(static_cast<unsigned char>(wire[0]) == 255);
}
