// The static backend: hubs named on the command line (--connect), reported once each as seen
// nodes on the first process(). Their id is unknown until their hello on the mesh.

#include "discovery/discovery.hpp"

namespace midimesh::discovery {
namespace {

class StaticDiscovery final : public Discovery {
public:
  StaticDiscovery(Listener& listener, std::vector<StaticHub> hubs)
      : listener_(listener), hubs_(std::move(hubs)) {}

  void announce(const NodeRecord&) override {} // nobody to tell
  std::vector<int> fds() const override { return {}; }

  void process(std::uint64_t) override {
    if (reported_) return;
    reported_ = true;
    for (const auto& hub : hubs_) {
      SeenNode node;
      node.record.role = "hub";
      node.record.port = hub.port;
      node.record.id.clear();
      node.host = hub.host;
      node.addresses = {hub.host};
      listener_.node_seen(node);
    }
  }

  // 1: already due, so the first process() comes at once even with no fd to wake it.
  std::uint64_t next_wakeup_us() const override { return reported_ ? 0 : 1; }

  std::string describe() const override {
    std::string out = "static: ";
    for (std::size_t i = 0; i < hubs_.size(); ++i)
      out += (i ? ", " : "") + hubs_[i].host + " port " + std::to_string(hubs_[i].port);
    return hubs_.empty() ? "static: no hubs" : out;
  }

private:
  Listener& listener_;
  const std::vector<StaticHub> hubs_;
  bool reported_ = false;
};

} // namespace

std::unique_ptr<Discovery> make_static_discovery(Listener& listener, std::vector<StaticHub> hubs) {
  return std::make_unique<StaticDiscovery>(listener, std::move(hubs));
}

} // namespace midimesh::discovery
