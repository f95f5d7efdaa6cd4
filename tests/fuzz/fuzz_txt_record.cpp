// libFuzzer target: a TXT record as mDNS delivers it (DNS wire form), split and decoded.
// Invariants: the wire form round-trips; a record that decodes encodes back to itself.

#include "check.hpp"
#include "discovery/txt_record.hpp"

#include <cstdint>

using namespace midimesh::discovery;

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
  return 0;
}
