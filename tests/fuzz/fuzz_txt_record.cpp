// libFuzzer target: a TXT record as mDNS delivers it (DNS wire form), split, decoded and its
// seal checked (a secured mesh's `sec`). Invariants: the wire form round-trips; a record that
// decodes encodes back to itself; no input passes for sealed with keys it was not sealed with,
// and a record sealed with them passes whatever order its strings come in.

#include "check.hpp"
#include "discovery/txt_record.hpp"

#include <algorithm>
#include <cstdint>

using namespace midimesh::discovery;

namespace {
// Fixed keys: Argon2 once per process, not per input.
const midimesh::security::MeshKeys& keys() {
  static const auto k = midimesh::security::derive_mesh_keys("fuzz passphrase", "fuzz");
  return k;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::string> entries = txt_from_wire(data, size);
  for (const std::string& entry : entries)
    FUZZ_CHECK(!entry.empty() && entry.size() <= 255);
  FUZZ_CHECK(txt_from_wire(txt_to_wire(entries).data(), txt_to_wire(entries).size()) == entries);

  const TxtDecode decoded = decode_txt(entries);
  if (decoded.ok()) {
    FUZZ_CHECK(decoded.record.protocol == txt_protocol);
    const TxtDecode again = decode_txt(encode_txt(decoded.record));
    FUZZ_CHECK(again.ok() && again.record == decoded.record);
  }

  // Nobody without the record key makes a seal that passes (a 128-bit tag: not by chance here).
  FUZZ_CHECK(check_seal(entries, &keys()) != Seal::valid);
  auto sealed = seal_txt(entries, keys());
  std::reverse(sealed.begin(), sealed.end());
  FUZZ_CHECK(std::count_if(entries.begin(), entries.end(),
                           [](const std::string& e) {
                             return e.size() >= 4 && (e[0] | 0x20) == 's' && (e[1] | 0x20) == 'e' &&
                                    (e[2] | 0x20) == 'c' && e[3] == '=';
                           }) > 0 ||
             check_seal(sealed, &keys()) == Seal::valid);
  return 0;
}
