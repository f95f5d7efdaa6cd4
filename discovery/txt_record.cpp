#include "discovery/txt_record.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>

namespace midimesh::discovery {
namespace {

constexpr std::size_t max_txt_string = 255;
constexpr std::size_t max_mesh = 200;

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
std::string cut_utf8(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80)
    --n; // s[n] continues a character: cut before that character starts
  s.resize(n);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return out;
}

bool is_node_id(std::string_view s) {
  return s.size() == 16 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

template <typename T> std::optional<T> parse_number(std::string_view s) {
  T value{};
  const auto* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, value);
  if (s.empty() || ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

// First value of each key (lower-cased); a key without '=' has no value (nullopt).
using Entries = std::map<std::string, std::optional<std::string>>;

Entries split(const std::vector<std::string>& entries) {
  Entries out;
  for (const auto& e : entries) {
    const auto eq = e.find('=');
    std::string key = lower(std::string_view(e).substr(0, eq));
    if (key.empty()) continue; // RFC 6763: a string starting with '=' is silently ignored
    std::optional<std::string> value;
    if (eq != std::string::npos) value = e.substr(eq + 1);
    out.emplace(std::move(key), std::move(value)); // emplace keeps the first
  }
  return out;
}

} // namespace

std::vector<std::string> encode_txt(const NodeRecord& r) {
  return {
      "proto=" + std::to_string(r.protocol),
      "id=" + r.id,
      "mesh=" + r.mesh,
      "role=" + r.role,
      cut_utf8("name=" + r.name, max_txt_string),
      "prio=" + std::to_string(r.priority),
      std::string("elig=") + (r.eligible ? "1" : "0"),
      "hub=" + r.hub_id,
      "term=" + std::to_string(r.term),
      "port=" + std::to_string(r.port),
      "rev=" + std::to_string(r.revision),
  };
}

namespace {

bool is_seal(std::string_view entry) {
  return entry.size() >= 4 && lower(entry.substr(0, 4)) == "sec=";
}

// Sorted: Avahi hands out a registered record's strings in reverse order (an updated one's in
// order), so the order of the strings cannot be part of what is sealed.
std::string unsealed_wire(const std::vector<std::string>& entries) {
  std::vector<std::string> rest;
  for (const auto& e : entries)
    if (!is_seal(e)) rest.push_back(e);
  std::sort(rest.begin(), rest.end());
  return txt_to_wire(rest);
}

} // namespace

std::vector<std::string> seal_txt(std::vector<std::string> entries,
                                  const security::MeshKeys& keys) {
  entries.push_back("sec=" + security::record_tag(keys, unsealed_wire(entries)));
  return entries;
}

Seal check_seal(const std::vector<std::string>& entries, const security::MeshKeys* keys) {
  const auto seal =
      std::find_if(entries.begin(), entries.end(), [](const std::string& e) { return is_seal(e); });
  if (seal == entries.end()) return Seal::none;
  if (!keys) return Seal::invalid;
  return security::record_tag_matches(*keys, unsealed_wire(entries), seal->substr(4))
             ? Seal::valid
             : Seal::invalid;
}

TxtDecode decode_txt(const std::vector<std::string>& entries) {
  TxtDecode out;
  NodeRecord& r = out.record;
  r = NodeRecord{};
  r.mesh.clear();
  r.role.clear();
  const Entries kv = split(entries);
  auto get = [&](const char* key) -> const std::optional<std::string>* {
    auto it = kv.find(key);
    return it == kv.end() ? nullptr : &it->second;
  };
  auto fail = [&](std::string problem) {
    out.problem = std::move(problem);
    return out;
  };
  auto required = [&](const char* key) -> const std::string* {
    const auto* v = get(key);
    if (!v || !*v || (*v)->empty()) return nullptr;
    return &**v;
  };

  // The keys every version keeps, so that a node of another version can be named in the log.
  const std::string* proto = required("proto");
  const std::string* id = required("id");
  const std::string* mesh = required("mesh");
  if (id && is_node_id(*id)) r.id = lower(*id);
  if (mesh && mesh->size() <= max_mesh) r.mesh = *mesh;
  if (!proto) return fail("missing key 'proto'");
  const auto version = parse_number<std::uint32_t>(*proto);
  if (!version) return fail("bad value for 'proto': '" + *proto + "'");
  r.protocol = *version;
  if (r.protocol != txt_protocol)
    return fail("protocol version " + std::to_string(r.protocol) + " (this build speaks " +
                std::to_string(txt_protocol) + ")");
  if (!id) return fail("missing key 'id'");
  if (r.id.empty()) return fail("bad value for 'id': '" + *id + "' (not 16 hex digits)");
  if (!mesh) return fail("missing key 'mesh'");
  if (r.mesh.empty())
    return fail("bad value for 'mesh': longer than " + std::to_string(max_mesh) + " bytes");

  const std::string* role = required("role");
  if (!role) return fail("missing key 'role'");
  if (*role != "hub" && *role != "node" && *role != "observer")
    return fail("bad value for 'role': '" + *role + "'");
  r.role = *role;

  // Optional keys: absent means the default; present but malformed is a problem all the same,
  // since a node that writes garbage there cannot be trusted with the rest.
  auto optional = [&](const char* key) -> std::optional<std::string> {
    const auto* v = get(key);
    if (!v) return std::nullopt;
    return v->value_or(std::string());
  };
  if (auto v = optional("name")) r.name = *v;
  if (auto v = optional("prio")) {
    const auto n = parse_number<int>(*v);
    if (!n) return fail("bad value for 'prio': '" + *v + "'");
    r.priority = *n;
  }
  if (auto v = optional("elig")) {
    if (*v != "0" && *v != "1") return fail("bad value for 'elig': '" + *v + "'");
    r.eligible = *v == "1";
  }
  if (auto v = optional("hub")) {
    if (!v->empty() && !is_node_id(*v))
      return fail("bad value for 'hub': '" + *v + "' (not 16 hex digits)");
    r.hub_id = lower(*v);
  }
  if (auto v = optional("term")) {
    const auto n = parse_number<std::uint64_t>(*v);
    if (!n) return fail("bad value for 'term': '" + *v + "'");
    r.term = *n;
  }
  if (auto v = optional("port")) {
    const auto n = parse_number<std::uint16_t>(*v);
    if (!n) return fail("bad value for 'port': '" + *v + "'");
    r.port = *n;
  }
  if (auto v = optional("rev")) {
    const auto n = parse_number<std::uint64_t>(*v);
    if (!n) return fail("bad value for 'rev': '" + *v + "'");
    r.revision = *n;
  }
  return out;
}

std::string txt_to_wire(const std::vector<std::string>& entries) {
  std::string out;
  for (const auto& e : entries) {
    const std::size_t n = std::min(e.size(), max_txt_string);
    if (n == 0) continue;
    out.push_back(static_cast<char>(n));
    out.append(e, 0, n);
  }
  if (out.empty()) out.push_back('\0');
  return out;
}

std::vector<std::string> txt_from_wire(const void* data, std::size_t size) {
  std::vector<std::string> out;
  const auto* p = static_cast<const unsigned char*>(data);
  std::size_t i = 0;
  while (p && i < size) {
    const std::size_t n = p[i++];
    if (n > size - i) break;
    if (n > 0) out.emplace_back(reinterpret_cast<const char*>(p + i), n);
    i += n;
  }
  return out;
}

} // namespace midimesh::discovery
