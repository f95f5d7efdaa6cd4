#include "wire/envelope.hpp"

#include <msgpack.hpp>

namespace midimesh::wire {
namespace {

constexpr std::uint32_t envelope_fields = 6;

const msgpack::object* find(const msgpack::object_map& map, std::string_view key) {
  for (std::uint32_t i = 0; i < map.size; ++i) {
    const auto& kv = map.ptr[i];
    if (kv.key.type == msgpack::type::STR &&
        std::string_view(kv.key.via.str.ptr, kv.key.via.str.size) == key)
      return &kv.val;
  }
  return nullptr;
}

// An integer under `key` (nullopt when missing or not an integer that fits).
std::optional<std::int64_t> read_int(const msgpack::object_map& map, std::string_view key) {
  const msgpack::object* o = find(map, key);
  if (!o) return std::nullopt;
  if (o->type == msgpack::type::POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
    return static_cast<std::int64_t>(o->via.u64);
  if (o->type == msgpack::type::NEGATIVE_INTEGER) return o->via.i64;
  return std::nullopt;
}

std::optional<bool> read_bool(const msgpack::object_map& map, std::string_view key) {
  const msgpack::object* o = find(map, key);
  if (!o || o->type != msgpack::type::BOOLEAN) return std::nullopt;
  return o->via.boolean;
}

// The string under `key`; nullopt when the key is missing or not a string.
std::optional<std::string> read_str(const msgpack::object_map& map, std::string_view key) {
  const msgpack::object* o = find(map, key);
  if (!o || o->type != msgpack::type::STR) return std::nullopt;
  return std::string(o->via.str.ptr, o->via.str.size);
}

// Unpacks exactly one map that fills the whole payload.
template <typename F> auto with_map(std::span<const std::uint8_t> payload, F&& f) {
  using R = decltype(f(std::declval<const msgpack::object_map&>()));
  try {
    std::size_t offset = 0;
    // msgpack allocates a map's or array's elements as soon as it reads their count: without a
    // limit, five bytes that declare four billion entries ask for 128 GiB (found by
    // fuzz_envelope). Every element takes at least one byte, so none can outnumber the bytes.
    const std::size_t n = payload.size();
    const msgpack::unpack_limit limit(n, n, n, n, n);
    auto handle = msgpack::unpack(reinterpret_cast<const char*>(payload.data()), payload.size(),
                                  offset, nullptr, nullptr, limit);
    if (offset != payload.size() || handle->type != msgpack::type::MAP) return R{};
    return f(handle->via.map);
  } catch (const std::exception&) {
    return R{};
  }
}

} // namespace

std::string_view describe(DecodeError error) noexcept {
  switch (error) {
  case DecodeError::malformed:
    return "malformed frame";
  case DecodeError::too_large:
    return "frame too large";
  case DecodeError::version_mismatch:
    return "other protocol version";
  case DecodeError::bad_sender:
    return "bad sender id";
  }
  return "unknown error";
}

bool is_node_id(std::string_view id) noexcept {
  if (id.size() != node_id_length) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

namespace {
std::vector<std::uint8_t> encode_fields(std::uint32_t version, std::uint8_t type,
                                        std::string_view sender, std::uint64_t seq,
                                        std::uint64_t time_us,
                                        std::span<const std::uint8_t> payload) {
  msgpack::sbuffer buffer(64 + payload.size());
  msgpack::packer<msgpack::sbuffer> pk(buffer);
  pk.pack_array(envelope_fields);
  pk.pack_uint32(version);
  pk.pack_uint8(type);
  pk.pack_str(static_cast<std::uint32_t>(sender.size()));
  pk.pack_str_body(sender.data(), static_cast<std::uint32_t>(sender.size()));
  pk.pack_uint64(seq);
  pk.pack_uint64(time_us);
  pk.pack_bin(static_cast<std::uint32_t>(payload.size()));
  pk.pack_bin_body(reinterpret_cast<const char*>(payload.data()),
                   static_cast<std::uint32_t>(payload.size()));
  const auto* begin = reinterpret_cast<const std::uint8_t*>(buffer.data());
  return {begin, begin + buffer.size()};
}
} // namespace

std::vector<std::uint8_t> encode(MessageType type, std::string_view sender, std::uint64_t seq,
                                 std::uint64_t time_us, std::span<const std::uint8_t> payload) {
  return encode_fields(protocol_version, static_cast<std::uint8_t>(type), sender, seq, time_us,
                       payload);
}

std::vector<std::uint8_t> encode(const Envelope& e) {
  return encode_fields(e.version, e.type, e.sender, e.seq, e.time_us, e.payload);
}

namespace {

// Reads the few msgpack forms an envelope uses, straight from the frame: every frame passes
// through here at the hub and at each node, and building msgpack objects for it cost more than
// the rest of midimesh's own work per message (measured with perf).
class HeaderReader {
public:
  explicit HeaderReader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  bool at_end() const noexcept { return pos_ == bytes_.size(); }

  std::optional<std::uint32_t> array() {
    const auto tag = byte();
    if (!tag) return std::nullopt;
    if ((*tag & 0xF0) == 0x90) return *tag & 0x0F;
    if (*tag == 0xDC) return big_endian<std::uint16_t>();
    if (*tag == 0xDD) return big_endian<std::uint32_t>();
    return std::nullopt;
  }

  // Any integer form holding a value >= 0.
  std::optional<std::uint64_t> uint() {
    const auto tag = byte();
    if (!tag) return std::nullopt;
    if (*tag <= 0x7F) return *tag;
    switch (*tag) {
    case 0xCC:
      return big_endian<std::uint8_t>();
    case 0xCD:
      return big_endian<std::uint16_t>();
    case 0xCE:
      return big_endian<std::uint32_t>();
    case 0xCF:
      return big_endian<std::uint64_t>();
    case 0xD0:
      return non_negative(big_endian<std::uint8_t>(), 8);
    case 0xD1:
      return non_negative(big_endian<std::uint16_t>(), 16);
    case 0xD2:
      return non_negative(big_endian<std::uint32_t>(), 32);
    case 0xD3:
      return non_negative(big_endian<std::uint64_t>(), 64);
    default:
      return std::nullopt;
    }
  }

  std::optional<std::string_view> str() {
    const auto tag = byte();
    if (!tag) return std::nullopt;
    std::optional<std::uint64_t> size;
    if ((*tag & 0xE0) == 0xA0)
      size = *tag & 0x1F;
    else if (*tag == 0xD9)
      size = big_endian<std::uint8_t>();
    else if (*tag == 0xDA)
      size = big_endian<std::uint16_t>();
    else if (*tag == 0xDB)
      size = big_endian<std::uint32_t>();
    const auto body = size ? take(*size) : std::nullopt;
    if (!body) return std::nullopt;
    return std::string_view(reinterpret_cast<const char*>(body->data()), body->size());
  }

  std::optional<std::span<const std::uint8_t>> bin() {
    const auto tag = byte();
    if (!tag) return std::nullopt;
    std::optional<std::uint64_t> size;
    if (*tag == 0xC4)
      size = big_endian<std::uint8_t>();
    else if (*tag == 0xC5)
      size = big_endian<std::uint16_t>();
    else if (*tag == 0xC6)
      size = big_endian<std::uint32_t>();
    return size ? take(*size) : std::nullopt;
  }

private:
  std::optional<std::uint8_t> byte() {
    if (pos_ >= bytes_.size()) return std::nullopt;
    return bytes_[pos_++];
  }
  std::optional<std::span<const std::uint8_t>> take(std::uint64_t n) {
    if (n > bytes_.size() - pos_) return std::nullopt;
    const auto out = bytes_.subspan(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return out;
  }
  template <typename T> std::optional<std::uint64_t> big_endian() {
    const auto raw = take(sizeof(T));
    if (!raw) return std::nullopt;
    std::uint64_t value = 0;
    for (std::uint8_t b : *raw)
      value = (value << 8) | b;
    return value;
  }
  // A signed form read as unsigned: refused when its sign bit is set.
  static std::optional<std::uint64_t> non_negative(std::optional<std::uint64_t> v, int bits) {
    if (!v || (*v >> (bits - 1)) & 1) return std::nullopt;
    return v;
  }

  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

} // namespace

Parsed parse(std::span<const std::uint8_t> frame) {
  Parsed result;
  if (frame.size() > max_frame_size) {
    result.error = DecodeError::too_large;
    return result;
  }
  HeaderReader in(frame);
  const auto fields = in.array();
  if (!fields || *fields < 1) return result;
  const auto version = in.uint();
  if (!version) return result;
  result.version = *version; // any integer >= 0, however large, names a version: not garbage
  if (*version != protocol_version) {
    // Checked before the shape: another version may lay out its fields differently.
    result.error = DecodeError::version_mismatch;
    return result;
  }
  if (*fields != envelope_fields) return result;
  const auto type = in.uint();
  const auto sender = type ? in.str() : std::nullopt;
  const auto seq = sender ? in.uint() : std::nullopt;
  const auto time_us = seq ? in.uint() : std::nullopt;
  const auto payload = time_us ? in.bin() : std::nullopt;
  // Trailing bytes would be two messages spliced together.
  if (!payload || *type > 255 || !in.at_end()) return result;
  if (!is_node_id(*sender)) {
    result.error = DecodeError::bad_sender;
    return result;
  }
  result.view = EnvelopeView{
      protocol_version, static_cast<std::uint8_t>(*type), *sender, *seq, *time_us, *payload};
  return result;
}

Decoded decode(std::span<const std::uint8_t> frame) {
  Parsed parsed = parse(frame);
  Decoded result;
  result.error = parsed.error;
  result.version = parsed.version;
  if (!parsed) return result;
  const EnvelopeView& v = *parsed.view;
  result.envelope =
      Envelope{v.version, v.type,    std::string(v.sender),
               v.seq,     v.time_us, std::vector<std::uint8_t>(v.payload.begin(), v.payload.end())};
  return result;
}

namespace {

// Packs a map from a list of (key, value) pairs of mixed types.
class MapWriter {
public:
  explicit MapWriter(std::uint32_t size) : pk_(buffer_) { pk_.pack_map(size); }
  template <typename T> MapWriter& operator()(std::string_view key, const T& value) {
    pk_.pack(key);
    pk_.pack(value);
    return *this;
  }
  std::vector<std::uint8_t> bytes() const {
    const auto* begin = reinterpret_cast<const std::uint8_t*>(buffer_.data());
    return {begin, begin + buffer_.size()};
  }

private:
  msgpack::sbuffer buffer_;
  msgpack::packer<msgpack::sbuffer> pk_;
};

std::uint64_t read_count(const msgpack::object_map& map, std::string_view key) {
  auto v = read_int(map, key);
  return v && *v > 0 ? static_cast<std::uint64_t>(*v) : 0;
}

} // namespace

std::vector<std::uint8_t> encode_payload(const Hello& h) {
  return MapWriter(13)("name", h.name)("role", h.role == Role::hub ? "hub" : "node")(
             "program", h.program)("mesh", h.mesh)("priority", h.priority)("eligible", h.eligible)(
             "forced", h.forced)("hub", h.hub)("term", h.term)("hub_port", h.hub_port)(
             "address", h.address)("kind", h.kind)("via", h.via)
      .bytes();
}

std::vector<std::uint8_t> encode_payload(const Goodbye& goodbye) {
  return MapWriter(1)("reason", goodbye.reason).bytes();
}

std::vector<std::uint8_t> encode_payload(const Status& s) {
  return MapWriter(26)("name", s.name)("host", s.host)("program", s.program)("mesh", s.mesh)(
             "role", s.role)("hub", s.hub)("protocol", s.protocol)("term", s.term)(
             "uptime_ms", s.uptime_ms)("midi_in", s.midi_in)("midi_in_bytes", s.midi_in_bytes)(
             "midi_out", s.midi_out)("midi_out_bytes", s.midi_out_bytes)("lost", s.lost)(
             "malformed", s.malformed)("rtt_us", s.rtt_us)("offset_us", s.offset_us)(
             "peers", s.peers)("kind", s.kind)("via", s.via)("rtp_port", s.rtp_port)(
             "rtp_lost", s.rtp_lost)("rtp_recovered", s.rtp_recovered)("rtp_bad", s.rtp_bad)(
             "refused", s.refused)("hub_dropped", s.hub_dropped)
      .bytes();
}

std::vector<std::uint8_t> encode_payload(const Ping& p) {
  return MapWriter(2)("to", p.to)("t0", p.t0).bytes();
}

std::vector<std::uint8_t> encode_payload(const Pong& p) {
  return MapWriter(3)("to", p.to)("t0", p.t0)("t1", p.t1).bytes();
}

std::optional<Status> decode_status(std::span<const std::uint8_t> payload) {
  return with_map(payload, [](const msgpack::object_map& map) -> std::optional<Status> {
    auto name = read_str(map, "name");
    auto role = read_str(map, "role");
    if (!name || !role) return std::nullopt;
    Status s;
    s.name = *name;
    s.role = *role;
    s.host = read_str(map, "host").value_or("");
    s.program = read_str(map, "program").value_or("");
    s.mesh = read_str(map, "mesh").value_or("default");
    s.hub = read_str(map, "hub").value_or("");
    s.protocol = static_cast<std::uint32_t>(read_count(map, "protocol"));
    s.term = read_count(map, "term");
    s.uptime_ms = read_count(map, "uptime_ms");
    s.midi_in = read_count(map, "midi_in");
    s.midi_in_bytes = read_count(map, "midi_in_bytes");
    s.midi_out = read_count(map, "midi_out");
    s.midi_out_bytes = read_count(map, "midi_out_bytes");
    s.lost = read_count(map, "lost");
    s.malformed = read_count(map, "malformed");
    s.rtt_us = read_int(map, "rtt_us").value_or(-1);
    s.offset_us = read_int(map, "offset_us").value_or(0);
    s.peers = read_count(map, "peers");
    s.kind = read_str(map, "kind").value_or("node");
    s.via = read_str(map, "via").value_or("");
    s.rtp_port = read_count(map, "rtp_port");
    s.rtp_lost = read_count(map, "rtp_lost");
    s.rtp_recovered = read_count(map, "rtp_recovered");
    s.rtp_bad = read_count(map, "rtp_bad");
    s.refused = read_count(map, "refused");
    s.hub_dropped = read_count(map, "hub_dropped");
    return s;
  });
}

std::optional<Ping> decode_ping(std::span<const std::uint8_t> payload) {
  return with_map(payload, [](const msgpack::object_map& map) -> std::optional<Ping> {
    auto to = read_str(map, "to");
    if (!to) return std::nullopt;
    return Ping{*to, read_count(map, "t0")};
  });
}

std::optional<Pong> decode_pong(std::span<const std::uint8_t> payload) {
  return with_map(payload, [](const msgpack::object_map& map) -> std::optional<Pong> {
    auto to = read_str(map, "to");
    if (!to) return std::nullopt;
    return Pong{*to, read_count(map, "t0"), read_count(map, "t1")};
  });
}

std::optional<Hello> decode_hello(std::span<const std::uint8_t> payload) {
  return with_map(payload, [](const msgpack::object_map& map) -> std::optional<Hello> {
    auto name = read_str(map, "name");
    auto role = read_str(map, "role");
    if (!name || !role) return std::nullopt;
    Hello hello;
    hello.name = *name;
    hello.role = *role == "hub" ? Role::hub : Role::node;
    hello.program = read_str(map, "program").value_or("");
    // Optional: a client that knows nothing of elections still joins a mesh it was sent to.
    hello.mesh = read_str(map, "mesh").value_or("default");
    hello.hub = read_str(map, "hub").value_or("");
    if (auto v = read_int(map, "priority")) hello.priority = static_cast<int>(*v);
    if (auto v = read_bool(map, "eligible")) hello.eligible = *v;
    if (auto v = read_bool(map, "forced")) hello.forced = *v;
    if (auto v = read_int(map, "term"); v && *v >= 0) hello.term = static_cast<std::uint64_t>(*v);
    if (auto v = read_int(map, "hub_port"); v && *v >= 0 && *v <= 65535)
      hello.hub_port = static_cast<std::uint16_t>(*v);
    hello.address = read_str(map, "address").value_or("");
    hello.kind = read_str(map, "kind").value_or("node");
    hello.via = read_str(map, "via").value_or("");
    return hello;
  });
}

std::optional<Goodbye> decode_goodbye(std::span<const std::uint8_t> payload) {
  return with_map(payload, [](const msgpack::object_map& map) -> std::optional<Goodbye> {
    auto reason = read_str(map, "reason");
    if (!reason) return std::nullopt;
    return Goodbye{*reason};
  });
}

} // namespace midimesh::wire
