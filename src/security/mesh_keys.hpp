#pragma once
// The keys of a secured mesh, derived from its passphrase and its name (PROTOCOL.md, "Secured
// meshes"). Every member derives the same keys on its own, so any member can be the hub: there
// is nothing to hand out but the passphrase.

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace midimesh::security {

using Key = std::array<std::uint8_t, 32>;

struct MeshKeys {
  // The hub's CURVE key pair: a client must know its public half to even start a handshake.
  Key server_public{}, server_secret{};
  // The members' CURVE key pair: what the hub's ZAP handler admits.
  Key client_public{}, client_secret{};
  // Signs the mesh's mDNS records, so a record forged by an outsider is not even considered.
  Key record_key{};
};

struct SecretError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Argon2id on purpose slow and memory-hard (a fraction of a second, 64 MiB): every guess of an
// attacker who recorded a handshake costs the same. Throws SecretError for an empty passphrase
// or when libsodium cannot run (out of memory).
MeshKeys derive_mesh_keys(std::string_view passphrase, std::string_view mesh);

// A keyed BLAKE2b tag of `message` under the record key, 16 bytes as 32 lowercase hex digits.
std::string record_tag(const MeshKeys& keys, std::string_view message);
// Compares in constant time.
bool record_tag_matches(const MeshKeys& keys, std::string_view message, std::string_view tag);

} // namespace midimesh::security
