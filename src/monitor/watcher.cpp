#include "monitor/watcher.hpp"

#include "log/log.hpp"
#include "midimesh_config.h"
#include "platform/poll_item.hpp"
#include "wire/envelope.hpp"
#include "wire/transport.hpp"

#include <algorithm>
#include <stdexcept>

namespace midimesh::monitor {
namespace {

constexpr std::string_view component = "monitor";

// The protocol puts the monitor port right after a hub's two mesh ports.
constexpr std::uint16_t monitor_offset = 2;

std::string monitor_endpoint(const std::string& host, std::uint16_t base) {
  const bool v6 = host.find(':') != std::string::npos;
  return "tcp://" + (v6 ? "[" + host + "]" : host) + ":" +
         std::to_string(static_cast<unsigned>(base) + monitor_offset);
}

// IPv4 first: it needs no interface scope and is what most LANs route.
std::string preferred_address(const std::vector<std::string>& addresses) {
  const auto v4 = std::find_if(addresses.begin(), addresses.end(), [](const std::string& a) {
    return a.find(':') == std::string::npos;
  });
  return v4 != addresses.end() ? *v4 : addresses.front();
}

zmq::socket_t make_sub(zmq::context_t& context, const security::SocketSecurity& security) {
  zmq::socket_t sub(context, zmq::socket_type::sub);
  wire::apply_common_options(sub);
  security.client(sub);
  sub.set(zmq::sockopt::linger, 0);
  sub.set(zmq::sockopt::subscribe, ""); // the monitor port carries status reports only
  return sub;
}

} // namespace

Watcher::Watcher(zmq::context_t& context, const std::string& mesh,
                 const security::SocketSecurity& security, OnStatus on_status)
    : sub_(make_sub(context, security)), on_status_(std::move(on_status)) {
#ifdef MIDIMESH_HAVE_DNS_SD
  // Browse only: without announce() the backend registers nothing, so the nodes never hear of us.
  discovery_ = discovery::make_dns_sd_discovery(*this, mesh, 0, security.keys());
#else
  (void)mesh;
  throw std::runtime_error("this build has no mDNS (dns_sd): use --connect HOST");
#endif
}

Watcher::Watcher(zmq::context_t& context, const std::string& host, std::uint16_t port,
                 const security::SocketSecurity& security, OnStatus on_status)
    : sub_(make_sub(context, security)), on_status_(std::move(on_status)) {
  discovery_ = discovery::make_static_discovery(*this, {{host, port}});
}

void Watcher::add_poll_items(std::vector<zmq::pollitem_t>& items) {
  items.push_back({sub_.handle(), 0, ZMQ_POLLIN, 0});
  for (int fd : discovery_->fds())
    items.push_back(platform::fd_item(fd));
}

void Watcher::on_poll(const zmq::pollitem_t* items, std::size_t count, std::uint64_t now_us) {
  if (count > 0 && (items[0].revents & ZMQ_POLLIN)) read_reports();
  // process() polls its own fds; calling it every time also runs its retries when they are due.
  discovery_->process(now_us);
}

std::uint64_t Watcher::next_wakeup_us() const {
  return discovery_->next_wakeup_us();
}

std::string Watcher::describe() const {
  return discovery_->describe() + ", watching " + std::to_string(endpoints_.size()) +
         " monitor port(s)";
}

void Watcher::node_seen(const discovery::SeenNode& node) {
  if (node.addresses.empty() || node.record.port == 0 || node.record.port > 65533) {
    detach(node.record.id);
    return;
  }
  const std::string endpoint =
      monitor_endpoint(preferred_address(node.addresses), node.record.port);
  if (auto it = found_.find(node.record.id); it != found_.end() && it->second == endpoint) return;
  detach(node.record.id);
  attach(node.record.id, endpoint);
}

void Watcher::node_gone(const std::string& id) {
  detach(id);
}

void Watcher::attach(const std::string& id, const std::string& endpoint) {
  found_[id] = endpoint;
  auto& users = endpoints_[endpoint];
  if (users.empty()) {
    try {
      sub_.connect(endpoint);
    } catch (const zmq::error_t& e) {
      log::warn(component, "cannot watch {} at {}: {}; ignoring it", id, endpoint, e.what());
      endpoints_.erase(endpoint);
      found_.erase(id);
      return;
    }
    log::info(component, "watching node {} at {}", id, endpoint);
  }
  users.insert(id);
}

void Watcher::detach(const std::string& id) {
  const auto it = found_.find(id);
  if (it == found_.end()) return;
  const std::string endpoint = it->second;
  found_.erase(it);
  auto users = endpoints_.find(endpoint);
  if (users == endpoints_.end()) return;
  users->second.erase(id);
  if (!users->second.empty()) return;
  endpoints_.erase(users);
  try {
    sub_.disconnect(endpoint);
  } catch (const zmq::error_t&) {
    // Already gone: nothing to undo.
  }
}

void Watcher::read_reports() {
  zmq::message_t topic, body;
  for (int i = 0; i < 1000; ++i) { // then let the loop redraw and read keys
    if (!sub_.recv(topic, zmq::recv_flags::dontwait)) return;
    if (!topic.more()) {
      ++malformed_;
      continue;
    }
    (void)sub_.recv(body, zmq::recv_flags::none);
    bool extra = false;
    while (body.more()) { // a third frame: not ours to read
      extra = true;
      (void)sub_.recv(body, zmq::recv_flags::none);
    }
    const wire::Decoded decoded = wire::decode({body.data<std::uint8_t>(), body.size()});
    if (extra || !decoded ||
        decoded.envelope->type != static_cast<std::uint8_t>(wire::MessageType::status) ||
        decoded.envelope->sender != topic.to_string_view()) {
      ++malformed_;
      continue;
    }
    const auto status = wire::decode_status(decoded.envelope->payload);
    if (!status) {
      ++malformed_;
      continue;
    }
    on_status_(decoded.envelope->sender, *status);
  }
}

} // namespace midimesh::monitor
