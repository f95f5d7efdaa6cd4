// libFuzzer target: the wire envelope (parse, decode), the hub's frame check, and the payload
// maps (hello, status, ping, pong, goodbye), all fed the same bytes. Invariants: parse and
// decode agree; what decodes encodes back to bytes that decode to the same value.

#include "check.hpp"
#include "hub/frame_check.hpp"
#include "wire/envelope.hpp"

#include <cstdint>
#include <span>
#include <string_view>

using namespace midimesh;

namespace {

// Decodes `bytes` with `decode`; when that works, encode_payload then decode again must give
// the same value back.
template <class Decode> void round_trip(std::span<const std::uint8_t> bytes, Decode decode) {
  const auto value = decode(bytes);
  if (!value) return;
  const auto again = decode(wire::encode_payload(*value));
  FUZZ_CHECK(again && *again == *value);
}

void payload_maps(std::span<const std::uint8_t> bytes) {
  round_trip(bytes, [](auto b) { return wire::decode_hello(b); });
  round_trip(bytes, [](auto b) { return wire::decode_status(b); });
  round_trip(bytes, [](auto b) { return wire::decode_ping(b); });
  round_trip(bytes, [](auto b) { return wire::decode_pong(b); });
  round_trip(bytes, [](auto b) { return wire::decode_goodbye(b); });
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> frame(data, size);

  const wire::Parsed parsed = wire::parse(frame);
  const wire::Decoded decoded = wire::decode(frame);
  FUZZ_CHECK(bool(parsed) == bool(decoded));
  FUZZ_CHECK(parsed.version == decoded.version);
  if (!parsed) FUZZ_CHECK(parsed.error == decoded.error);

  // The hub forwards exactly what parses, when the topic is the sender.
  const std::string_view topic =
      parsed ? parsed.view->sender : std::string_view("0123456789abcdef");
  const std::span<const std::uint8_t> topic_bytes(
      reinterpret_cast<const std::uint8_t*>(topic.data()), topic.size());
  const hub::Verdict verdict = hub::check_message(2, topic_bytes, frame);
  FUZZ_CHECK(bool(parsed) ==
             (verdict == hub::Verdict::forward || verdict == hub::Verdict::to_monitors));
  FUZZ_CHECK(hub::check_message(3, topic_bytes, frame) == hub::Verdict::wrong_frame_count);

  if (decoded) {
    const wire::Envelope& envelope = *decoded.envelope;
    const wire::EnvelopeView& view = *parsed.view;
    FUZZ_CHECK(envelope.sender == view.sender && envelope.seq == view.seq &&
               envelope.time_us == view.time_us && envelope.type == view.type &&
               envelope.payload.size() == view.payload.size());
    FUZZ_CHECK(wire::is_node_id(envelope.sender));
    const auto again = wire::decode(wire::encode(envelope));
    FUZZ_CHECK(again && *again.envelope == envelope);
    payload_maps(envelope.payload);
  }
  // A payload map on its own, as a peer might send any bytes as a payload.
  payload_maps(frame);
  return 0;
}
