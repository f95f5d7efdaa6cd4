#pragma once
// The edge that hears the mesh: discovery (mDNS, or the hub given with --connect) says where
// nodes are; one ZeroMQ SUB socket is connected to the monitor port (base + 2) of every node
// found. Every node keeps a standby hub, but only the active hub's monitor port carries status
// reports, so after a failover the reports simply come from another connection: nothing to
// follow. A watcher announces nothing and publishes nothing: it is not a node of the mesh.
// meshtop shows what it hears; meshbench's join and failover trials read the nodes' roles from
// it, so both tools hear the mesh the one way the protocol offers (PROTOCOL.md section 5).

#include "discovery/discovery.hpp"
#include "security/socket_security.hpp"

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace midimesh::wire {
struct Status;
}

namespace midimesh::monitor {

class Watcher final : public discovery::Listener {
public:
  using OnStatus = std::function<void(const std::string& sender, const wire::Status& status)>;

  // Browses mesh `mesh` by mDNS. Throws std::runtime_error when this build has no dns_sd.
  // `security`: the mesh's (a secured mesh's monitor ports speak CURVE only).
  Watcher(zmq::context_t& context, const std::string& mesh,
          const security::SocketSecurity& security, OnStatus on_status);
  // Watches the hub at host:port (port: its base port) only.
  Watcher(zmq::context_t& context, const std::string& host, std::uint16_t port,
          const security::SocketSecurity& security, OnStatus on_status);

  // The socket and discovery's fds, appended to `items`; on_poll() takes them back in the same
  // order after zmq::poll.
  void add_poll_items(std::vector<zmq::pollitem_t>& items);
  void on_poll(const zmq::pollitem_t* items, std::size_t count, std::uint64_t now_us);
  // A time (same clock as now_us) when on_poll wants to run even if nothing is readable; 0: none.
  std::uint64_t next_wakeup_us() const;

  std::string describe() const; // for the screen's status line
  std::size_t nodes_found() const { return found_.size(); }
  std::uint64_t malformed() const {
    return malformed_;
  } // frames on monitor ports we could not read

  void node_seen(const discovery::SeenNode& node) override;
  void node_gone(const std::string& id) override;

private:
  void attach(const std::string& id, const std::string& endpoint);
  void detach(const std::string& id);
  void read_reports();

  zmq::socket_t sub_;
  OnStatus on_status_;
  std::unique_ptr<discovery::Discovery> discovery_;
  std::map<std::string, std::string> found_;               // node id -> monitor endpoint
  std::map<std::string, std::set<std::string>> endpoints_; // endpoint -> node ids using it
  std::uint64_t malformed_ = 0;
};

} // namespace midimesh::monitor
