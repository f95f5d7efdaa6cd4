#pragma once
// Finding and announcing midimesh nodes. One small interface, two backends: dns_sd (mDNS/DNS-SD
// through Avahi's compatibility library on Linux, Bonjour on macOS and Windows) and a static list
// (--connect). Discovery finds nodes; it never decides who is alive: mDNS keeps a crashed
// laptop "present" for minutes, so liveness comes from heartbeats on the mesh.

#include "security/mesh_keys.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace midimesh::discovery {

inline constexpr const char* service_type = "_midimesh._tcp";

// What a node announces about itself (the TXT record of its service).
struct NodeRecord {
  std::uint32_t protocol = 1; // wire protocol version
  std::string id;             // node id, 16 hex digits
  std::string name;           // human-readable
  std::string mesh = "default";
  int priority = 0;          // higher is preferred as hub
  bool eligible = true;      // false: never hub (--no-hub, observers)
  std::string role = "node"; // "hub", "node" or "observer"
  std::string hub_id;        // the hub this node follows (itself when hub); empty: none yet
  std::uint64_t term = 0;    // election term of that hub
  std::uint16_t port = 0;    // base port its hub listens on, when it is hub (else 0)
  // Counts the changes of this record in the announcing process: of two records with the same
  // id, the one with the higher revision is the newer (discovery sets it when announcing).
  std::uint64_t revision = 0;
  bool operator==(const NodeRecord&) const = default;
};

// A node found on the network, with the addresses it can be reached at.
struct SeenNode {
  NodeRecord record;
  std::string host;                   // its host name, as resolved
  std::vector<std::string> addresses; // IPv4 and IPv6, numeric; IPv6 link-local with %scope
};

class Listener {
public:
  virtual ~Listener() = default;
  // A node appeared or its record changed. Called from Discovery::process() only.
  virtual void node_seen(const SeenNode& node) = 0;
  // Its service was withdrawn (a clean exit). A crash is NOT reported here.
  virtual void node_gone(const std::string& id) = 0;
};

class Discovery {
public:
  virtual ~Discovery() = default;
  // Publishes or updates this node's record. Never throws: a missing daemon is logged once
  // (with what to do about it) and retried in the background.
  virtual void announce(const NodeRecord& self) = 0;
  // File descriptors to poll for reading; may change after process() or announce().
  virtual std::vector<int> fds() const = 0;
  // Handles whatever is readable, and retries that are due. now_us: a monotonic clock.
  virtual void process(std::uint64_t now_us) = 0;
  // When process() wants to be called again even if no fd is readable: a time on the now_us
  // clock, possibly already past (then call it at once); 0: no need.
  virtual std::uint64_t next_wakeup_us() const = 0;
  // One line for the log: what this backend is doing ("mDNS: browsing _midimesh._tcp").
  virtual std::string describe() const = 0;
};

// mDNS/DNS-SD through the dns_sd API. Reports only nodes of `mesh` and protocol version 1;
// others are logged once each and ignored. `base_port`: the base port this node's hub would
// listen on, announced as the SRV port while the node is not hub (Bonjour hides a service of
// port 0); the TXT record's `port` says whether a hub listens there. process() polls the
// fds itself (zero timeout), so it may be called at any time.
// `keys`: a secured mesh's (records are sealed, and only sealed ones are reported); nullptr:
// an open mesh (sealed records are another mesh: logged once, ignored).
std::unique_ptr<Discovery> make_dns_sd_discovery(Listener& listener, const std::string& mesh,
                                                 std::uint16_t base_port,
                                                 const security::MeshKeys* keys = nullptr);

// Known hubs given on the command line (host and base port), reported once as seen nodes.
struct StaticHub {
  std::string host;
  std::uint16_t port;
};
std::unique_ptr<Discovery> make_static_discovery(Listener& listener, std::vector<StaticHub> hubs);

} // namespace midimesh::discovery
