#pragma once
// A NodeRecord as the TXT record of a `_midimesh._tcp` service, and back. Pure: no dns_sd.
//
// TXT keys (short: the whole record travels in every mDNS answer, ~120 bytes in all):
//   proto  wire protocol version, decimal              required, kept by every version
//   id     node id, 16 hex digits                      required, kept by every version
//   mesh   mesh name (1..200 bytes)                    required, kept by every version
//   role   "hub", "node" or "observer"                 required
//   name   human-readable name (the instance name may have been renamed on a conflict)
//   prio   priority as hub, decimal, may be negative   default 0
//   elig   1 or 0: may become hub                      default 1
//   hub    id of the hub it follows, or empty          default empty
//   term   election term of that hub, decimal          default 0
//   port   base port of its hub when it is hub, else 0 default 0
//   rev    revision: counts the record's changes       default 0
//   sec    secured mesh: the record's seal, 32 hex digits (seal_txt); absent on an open mesh
// Keys are matched without regard to case and only the first of a repeated key counts
// (RFC 6763, 6.4); unknown keys are ignored, so a later version may add keys freely. A record
// whose proto is not ours is decoded no further than proto, id and mesh: a new version may
// change everything else.

#include "discovery/discovery.hpp"
#include "security/mesh_keys.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace midimesh::discovery {

// The protocol version this build speaks.
inline constexpr std::uint32_t txt_protocol = 1;

// "key=value" strings, in the order above. A name too long for one TXT string (255 bytes) is
// cut at a UTF-8 character boundary.
std::vector<std::string> encode_txt(const NodeRecord& record);

struct TxtDecode {
  NodeRecord record;   // what could be read; complete only when ok()
  std::string problem; // empty when the record is valid for protocol txt_protocol
  bool ok() const { return problem.empty(); }
};
// Never throws on bad input: a missing or malformed required key is a problem, not an error.
TxtDecode decode_txt(const std::vector<std::string>& entries);

// A secured mesh's record carries `sec`: a tag under the mesh's record key over every other
// string of the record, sorted bytewise, in the DNS wire form (txt_to_wire). Only members can make
// it, so an outsider's forged record is not even considered; it names no key and no passphrase.
std::vector<std::string> seal_txt(std::vector<std::string> entries, const security::MeshKeys& keys);

enum class Seal {
  none,    // no `sec`: an open mesh's record
  valid,   // sealed with our keys
  invalid, // sealed, not with our keys: another passphrase (or a forgery)
};
Seal check_seal(const std::vector<std::string>& entries, const security::MeshKeys* keys);

// The DNS wire form of a TXT record: each string prefixed by its length byte. An empty list
// becomes a single empty string (one zero byte), as RFC 6763 asks. Strings longer than 255
// bytes are cut.
std::string txt_to_wire(const std::vector<std::string>& entries);
// Splits the wire form; a length running past the end ends the list. Empty strings are skipped.
std::vector<std::string> txt_from_wire(const void* data, std::size_t size);

} // namespace midimesh::discovery
