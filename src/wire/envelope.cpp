#include "wire/envelope.hpp"

#include <msgpack.hpp>

namespace midimesh::wire {
namespace {

constexpr std::uint32_t envelope_fields = 6;

bool read_uint(const msgpack::object& o, std::uint64_t& out) {
  if (o.type != msgpack::type::POSITIVE_INTEGER) return false;
  out = o.via.u64;
  return true;
}

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
    auto handle =
        msgpack::unpack(reinterpret_cast<const char*>(payload.data()), payload.size(), offset);
    if (offset != payload.size() || handle->type != msgpack::type::MAP) return R{};
    return f(handle->via.map);
  } catch (const std::exception&) {
    return R{};
  }
}

bool reference_everything(msgpack::type::object_type, std::size_t, void*) {
  return true;
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

Parsed parse(std::span<const std::uint8_t> frame) {
  Parsed result;
  if (frame.size() > max_frame_size) {
    result.error = DecodeError::too_large;
    return result;
  }
  msgpack::object_handle handle;
  try {
    std::size_t offset = 0;
    // Strings and binaries are referenced, not copied: the views point into `frame`.
    handle = msgpack::unpack(reinterpret_cast<const char*>(frame.data()), frame.size(), offset,
                             reference_everything);
    if (offset != frame.size()) return result; // trailing bytes: two messages spliced together
  } catch (const std::exception&) {
    return result;
  }
  const msgpack::object& root = handle.get();
  if (root.type != msgpack::type::ARRAY || root.via.array.size < 1) return result;
  const msgpack::object* f = root.via.array.ptr;
  std::uint64_t version = 0;
  if (!read_uint(f[0], version) || version > UINT32_MAX) return result;
  result.version = static_cast<std::uint32_t>(version);
  if (version != protocol_version) {
    // Checked before the shape: another version may lay out its fields differently.
    result.error = DecodeError::version_mismatch;
    return result;
  }
  if (root.via.array.size != envelope_fields) return result;
  EnvelopeView v;
  v.version = result.version;
  std::uint64_t type = 0;
  if (!read_uint(f[1], type) || type > 255) return result;
  v.type = static_cast<std::uint8_t>(type);
  if (f[2].type != msgpack::type::STR) return result;
  v.sender = std::string_view(f[2].via.str.ptr, f[2].via.str.size);
  if (!read_uint(f[3], v.seq) || !read_uint(f[4], v.time_us)) return result;
  if (f[5].type != msgpack::type::BIN) return result;
  if (!is_node_id(v.sender)) {
    result.error = DecodeError::bad_sender;
    return result;
  }
  v.payload = {reinterpret_cast<const std::uint8_t*>(f[5].via.bin.ptr), f[5].via.bin.size};
  result.view = v;
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
  return MapWriter(10)("name", h.name)("role", h.role == Role::hub ? "hub" : "node")(
             "program", h.program)("mesh", h.mesh)("priority", h.priority)("eligible", h.eligible)(
             "forced", h.forced)("hub", h.hub)("term", h.term)("hub_port", h.hub_port)
      .bytes();
}

std::vector<std::uint8_t> encode_payload(const Goodbye& goodbye) {
  return MapWriter(1)("reason", goodbye.reason).bytes();
}

std::vector<std::uint8_t> encode_payload(const Status& s) {
  return MapWriter(18)("name", s.name)("host", s.host)("program", s.program)("mesh", s.mesh)(
             "role", s.role)("hub", s.hub)("protocol", s.protocol)("term", s.term)(
             "uptime_ms", s.uptime_ms)("midi_in", s.midi_in)("midi_in_bytes", s.midi_in_bytes)(
             "midi_out", s.midi_out)("midi_out_bytes", s.midi_out_bytes)("lost", s.lost)(
             "malformed", s.malformed)("rtt_us", s.rtt_us)("offset_us", s.offset_us)("peers",
                                                                                     s.peers)
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
