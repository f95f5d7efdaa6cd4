#include "mesh_roles.hpp"

#include "receiver.hpp"
#include "wire/envelope.hpp"

namespace meshbench {

MeshRoles::MeshRoles(const std::string& mesh)
    : watcher_(context_, mesh, {}, [this](const std::string& sender, const auto& status) {
        on_status(sender, status.name, status.role, status.hub);
      }) {}

MeshRoles::MeshRoles(std::uint16_t hub_port)
    : watcher_(context_, "127.0.0.1", hub_port, {},
               [this](const std::string& sender, const auto& status) {
                 on_status(sender, status.name, status.role, status.hub);
               }) {}

void MeshRoles::on_status(const std::string& sender, const std::string& name,
                          const std::string& role, const std::string& hub) {
  Report& report = reports_[name];
  report.id = sender;
  if (role == "hub")
    report.role = {NodeRole::Kind::hub, ""};
  else if (!hub.empty())
    report.role = {NodeRole::Kind::follower, hub};
  else
    report.role = {}; // between hubs
}

void MeshRoles::poll(std::chrono::milliseconds wait) {
  std::vector<zmq::pollitem_t> items;
  watcher_.add_poll_items(items);
  const std::uint64_t now = steady_us();
  if (const std::uint64_t wake = watcher_.next_wakeup_us(); wake)
    wait = std::min(wait, std::chrono::milliseconds(wake > now ? (wake - now + 999) / 1000 : 0));
  zmq::poll(items.data(), items.size(), wait);
  watcher_.on_poll(items.data(), items.size(), steady_us());
}

NodeRole MeshRoles::role(const std::string& name) const {
  const auto it = reports_.find(name);
  return it == reports_.end() ? NodeRole{} : it->second.role;
}

std::optional<std::string> MeshRoles::agreed_hub(const std::vector<std::string>& names) const {
  const std::string* hub = nullptr;
  for (const std::string& name : names)
    if (role(name).kind == NodeRole::Kind::hub) {
      if (hub) return std::nullopt; // two claim it: not settled yet
      hub = &name;
    }
  if (!hub) return std::nullopt;
  const std::string& hub_id = reports_.at(*hub).id;
  for (const std::string& name : names)
    if (&name != hub) {
      const NodeRole r = role(name);
      if (r.kind != NodeRole::Kind::follower || r.hub_id != hub_id) return std::nullopt;
    }
  return *hub;
}

} // namespace meshbench
