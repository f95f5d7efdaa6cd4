#include "security/mesh_keys.hpp"

#include <sodium.h>

namespace midimesh::security {
namespace {

constexpr char kdf_context[crypto_kdf_CONTEXTBYTES + 1] = "midimesh";
enum SubkeyId : std::uint64_t { server_subkey = 1, client_subkey = 2, record_subkey = 3 };

void ensure_sodium() {
  if (sodium_init() < 0) throw SecretError("libsodium cannot start");
}

Key subkey(const Key& master, SubkeyId id) {
  Key key{};
  crypto_kdf_derive_from_key(key.data(), key.size(), id, kdf_context, master.data());
  return key;
}

std::string hex(const std::uint8_t* data, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string text;
  text.reserve(2 * size);
  for (std::size_t i = 0; i < size; ++i) {
    text.push_back(digits[data[i] >> 4]);
    text.push_back(digits[data[i] & 0x0F]);
  }
  return text;
}

} // namespace

MeshKeys derive_mesh_keys(std::string_view passphrase, std::string_view mesh) {
  if (passphrase.empty()) throw SecretError("the passphrase is empty");
  ensure_sodium();
  // The salt is the mesh's name: every member must reach the same keys without talking, and
  // one table of precomputed guesses does not serve two meshes.
  const std::string salt_input = "midimesh/1 mesh " + std::string(mesh);
  std::array<std::uint8_t, crypto_pwhash_SALTBYTES> salt{};
  crypto_generichash(salt.data(), salt.size(),
                     reinterpret_cast<const unsigned char*>(salt_input.data()), salt_input.size(),
                     nullptr, 0);
  Key master{};
  if (crypto_pwhash(master.data(), master.size(), passphrase.data(), passphrase.size(), salt.data(),
                    crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                    crypto_pwhash_ALG_ARGON2ID13) != 0)
    throw SecretError("not enough memory to derive the keys from the passphrase (64 MiB)");
  MeshKeys keys;
  keys.server_secret = subkey(master, server_subkey);
  keys.client_secret = subkey(master, client_subkey);
  keys.record_key = subkey(master, record_subkey);
  crypto_scalarmult_base(keys.server_public.data(), keys.server_secret.data());
  crypto_scalarmult_base(keys.client_public.data(), keys.client_secret.data());
  sodium_memzero(master.data(), master.size());
  return keys;
}

std::string record_tag(const MeshKeys& keys, std::string_view message) {
  std::array<std::uint8_t, 16> tag{};
  crypto_generichash(tag.data(), tag.size(), reinterpret_cast<const unsigned char*>(message.data()),
                     message.size(), keys.record_key.data(), keys.record_key.size());
  return hex(tag.data(), tag.size());
}

bool record_tag_matches(const MeshKeys& keys, std::string_view message, std::string_view tag) {
  const std::string expected = record_tag(keys, message);
  return tag.size() == expected.size() &&
         sodium_memcmp(expected.data(), tag.data(), expected.size()) == 0;
}

} // namespace midimesh::security
