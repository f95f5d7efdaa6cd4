#include "discovery/txt_record.hpp"
#include "security/mesh_keys.hpp"

#include <algorithm>
#include <catch2/catch.hpp>

using namespace midimesh;

namespace {

std::string hex(const security::Key& key) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (auto byte : key) {
    out.push_back(digits[byte >> 4]);
    out.push_back(digits[byte & 0x0F]);
  }
  return out;
}

// Derived once: Argon2 takes a fraction of a second on purpose.
const security::MeshKeys& band_keys() {
  static const security::MeshKeys keys =
      security::derive_mesh_keys("correct horse battery staple", "default");
  return keys;
}

} // namespace

TEST_CASE("mesh keys follow PROTOCOL.md: a known answer", "[security]") {
  // Computed independently from the document's recipe (libsodium through Python's ctypes,
  // tests/integration/mesh_keys.py): a change to the derivation breaks every mesh in the field.
  CHECK(hex(band_keys().server_public) ==
        "fd090494450cbb99d95c8df41a5f135db79fab387c5aab33023ec66edc53017b");
}

TEST_CASE("mesh keys: the same passphrase and mesh give the same keys, anything else others",
          "[security]") {
  const auto& keys = band_keys();
  CHECK(keys.server_public != keys.client_public);
  CHECK(keys.record_key != keys.server_secret);
  const auto other_mesh = security::derive_mesh_keys("correct horse battery staple", "band2");
  CHECK(other_mesh.server_public != keys.server_public);
  const auto other_word = security::derive_mesh_keys("correct horse battery stable", "default");
  CHECK(other_word.client_public != keys.client_public);
  CHECK_THROWS_AS(security::derive_mesh_keys("", "default"), security::SecretError);
}

TEST_CASE("sealed TXT records: members' records pass, in any order; others do not", "[security]") {
  discovery::NodeRecord record;
  record.id = "0123456789abcdef";
  record.name = "stage left";
  record.role = "hub";
  record.term = 3;
  const auto& keys = band_keys();
  const auto sealed = discovery::seal_txt(discovery::encode_txt(record), keys);
  CHECK(discovery::check_seal(sealed, &keys) == discovery::Seal::valid);
  // Through the wire form, and reversed as Avahi hands out a registered record.
  auto reversed = discovery::txt_from_wire(discovery::txt_to_wire(sealed).data(),
                                           discovery::txt_to_wire(sealed).size());
  std::reverse(reversed.begin(), reversed.end());
  CHECK(discovery::check_seal(reversed, &keys) == discovery::Seal::valid);
  CHECK(discovery::decode_txt(reversed).record.term == 3);

  SECTION("a changed field breaks the seal") {
    auto forged = sealed;
    std::replace(forged.begin(), forged.end(), std::string("term=3"), std::string("term=9"));
    CHECK(discovery::check_seal(forged, &keys) == discovery::Seal::invalid);
  }
  SECTION("another passphrase's seal, and any seal without keys, is invalid") {
    const auto other = security::derive_mesh_keys("a guess that is not it", "default");
    CHECK(discovery::check_seal(sealed, &other) == discovery::Seal::invalid);
    CHECK(discovery::check_seal(sealed, nullptr) == discovery::Seal::invalid);
  }
  SECTION("an open mesh's record has no seal") {
    CHECK(discovery::check_seal(discovery::encode_txt(record), &keys) == discovery::Seal::none);
    CHECK(discovery::check_seal(discovery::encode_txt(record), nullptr) == discovery::Seal::none);
  }
  SECTION("a seal that is not hex, or cut short, is invalid") {
    auto cut = sealed;
    cut.back().resize(10);
    CHECK(discovery::check_seal(cut, &keys) == discovery::Seal::invalid);
  }
}
