#pragma once
// What the hub does with one message from a peer: forward it, or refuse it and say why.
// Pure code: the proxy hands it the frames, it looks at bytes only.

#include <cstdint>
#include <span>
#include <string_view>

namespace midimesh::hub {

enum class Verdict {
  forward,
  to_monitors,       // a status report: for the monitor port (meshtop), not for the nodes
  wrong_frame_count, // v1 messages are exactly [topic, envelope]
  malformed,         // the envelope does not parse
  too_large,         // over wire::max_frame_size
  version_mismatch,  // another protocol version: never forwarded into a v1 mesh
  spoofed_sender,    // topic is not the envelope's sender, so the sender filter would not apply
};

std::string_view describe(Verdict verdict) noexcept;

Verdict check_message(std::size_t frame_count, std::span<const std::uint8_t> topic,
                      std::span<const std::uint8_t> envelope);

} // namespace midimesh::hub
