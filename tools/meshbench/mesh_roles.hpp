#pragma once
// Where the nodes of a join or failover trial stand in the mesh, as they report it themselves:
// the status reports on the active hub's monitor port (PROTOCOL.md section 5), heard through the
// watcher meshtop uses (monitor/watcher). A report says the node's name, its role and the hub it
// follows, about once a second.

#include "monitor/watcher.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace meshbench {

struct NodeRole {
  enum class Kind { none, hub, follower } kind = Kind::none;
  std::string hub_id; // follower: the hub it follows
};

class MeshRoles {
public:
  // The nodes of mesh `mesh`, found by mDNS as meshtop finds them. Throws std::runtime_error
  // when this build has no dns_sd.
  explicit MeshRoles(const std::string& mesh);
  // The hub listening at 127.0.0.1:port (its base port) only: a mesh of --connect nodes.
  explicit MeshRoles(std::uint16_t hub_port);
  MeshRoles(const MeshRoles&) = delete;
  MeshRoles& operator=(const MeshRoles&) = delete;

  // Takes what the monitor ports and discovery have, waiting up to `wait` for it.
  void poll(std::chrono::milliseconds wait);
  // The role in the last report of the node named `name`; none before its first.
  NodeRole role(const std::string& name) const;
  // The one of `names` that reports itself hub while every other reports following it, if so.
  std::optional<std::string> agreed_hub(const std::vector<std::string>& names) const;
  // Drops every report heard so far: after a change, only the next ones tell the roles.
  void forget() { reports_.clear(); }
  std::uint64_t malformed() const { return watcher_.malformed(); }

private:
  struct Report {
    std::string id; // the sender's node id
    NodeRole role;
  };
  void on_status(const std::string& sender, const std::string& name, const std::string& role,
                 const std::string& hub);

  zmq::context_t context_{1};
  std::map<std::string, Report> reports_; // by node name
  midimesh::monitor::Watcher watcher_;
};

} // namespace meshbench
