#include "node/mesh_link.hpp"

#include "wire/transport.hpp"

#include <algorithm>
#include <cstring>

namespace midimesh::node {
namespace {
// Deep queues: a burst of MIDI must wait in memory, not vanish at ZeroMQ's default of 1000.
constexpr int queue_depth = 100'000;

constexpr int handshake_events =
    ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;

// "tcp://HOST:PORT" or "tcp://[V6]:PORT" -> HOST or V6.
std::string host_of(const std::string& endpoint) {
  std::string rest = endpoint.substr(endpoint.find("://") + 3);
  rest = rest.substr(0, rest.rfind(':'));
  if (rest.size() >= 2 && rest.front() == '[' && rest.back() == ']')
    rest = rest.substr(1, rest.size() - 2);
  return rest;
}

std::size_t shorten_reported(wire::SocketMonitor& monitor,
                             std::vector<MeshLink::Handshake>* handshakes = nullptr) {
  std::size_t refused = 0;
  if (!monitor) return refused;
  zmq::message_t event, address;
  while (monitor.events().recv(event, zmq::recv_flags::dontwait)) {
    if (event.more()) (void)monitor.events().recv(address, zmq::recv_flags::none);
    if (event.size() < 6) continue;
    std::uint16_t id = 0;
    std::uint32_t fd = 0;
    std::memcpy(&id, event.data(), sizeof id);
    std::memcpy(&fd, event.data<std::uint8_t>() + 2, sizeof fd);
    // The event is read a little later than it happened. Had the connection closed meanwhile
    // and its fd number gone to another socket, the call fails (not TCP) or shortens another
    // TCP connection of this process's, which does no harm.
    if (id == ZMQ_EVENT_CONNECTED && !wire::shorten_retransmission(static_cast<int>(fd))) ++refused;
    if (!handshakes) continue;
    switch (id) {
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
      handshakes->push_back(MeshLink::Handshake::succeeded);
      break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
      handshakes->push_back(MeshLink::Handshake::refused_key);
      break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
      handshakes->push_back(MeshLink::Handshake::other_mechanism);
      break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
      handshakes->push_back(MeshLink::Handshake::refused_by_hub);
      break;
    default:
      break;
    }
  }
  return refused;
}

} // namespace

zmq::socket_t mesh_publisher(zmq::context_t& context, const security::SocketSecurity& security) {
  zmq::socket_t publisher(context, zmq::socket_type::xpub);
  wire::apply_common_options(publisher);
  security.client(publisher);
  publisher.set(zmq::sockopt::sndhwm, queue_depth);
  return publisher;
}

zmq::socket_t mesh_subscriber(zmq::context_t& context, const std::string& node_id,
                              const security::SocketSecurity& security) {
  zmq::socket_t subscriber(context, zmq::socket_type::xsub);
  wire::apply_common_options(subscriber);
  security.client(subscriber);
  subscriber.set(zmq::sockopt::rcvhwm, queue_depth);
  // With inverted matching, subscribing to our own id means "everything except our own
  // messages"; the hub's XPUB applies the rule, so they are never sent back to us. The XSUB
  // keeps the subscription and sends it on every connection, also after a reconnect.
  subscriber.set(zmq::sockopt::invert_matching, 1);
  std::string subscription(1, '\x01');
  subscription += node_id;
  subscriber.send(zmq::buffer(subscription), zmq::send_flags::none);
  return subscriber;
}

MeshLink::MeshLink(zmq::context_t& context, std::string node_id, int connections,
                   security::SocketSecurity security)
    : context_(context), id_(std::move(node_id)),
      connections_(std::clamp(connections, 0, max_connections)), security_(std::move(security)) {}

void MeshLink::connect(const std::string& publish_endpoint, const std::string& subscribe_endpoint) {
  disconnect(0);
  released_ = true;
  // Replay first, in order, then whatever was held meanwhile; both bounded by max_held.
  while (!recent_.empty() && held_.size() < max_held &&
         held_bytes_ + recent_.back().bytes.size() <= max_held_bytes) {
    held_bytes_ += recent_.back().bytes.size();
    held_.push_front(std::move(recent_.back()));
    recent_.pop_back();
  }
  recent_.clear();
  recent_bytes_ = 0;
  publisher_ = mesh_publisher(context_, security_);
  subscriber_ = mesh_subscriber(context_, id_, security_);
  // In-process (this node is the hub) nothing is lost: one connection.
  const bool tcp = publish_endpoint.starts_with("tcp://");
  if (tcp) {
    const std::string name = "inproc://midimesh-link-" + id_ + "-" + std::to_string(generation_++);
    // libzmq allows one monitor per socket: this one serves the retransmission timeout
    // (CONNECTED) and, on the subscriber, the handshakes. Without one, the connections keep the
    // system's timeouts.
    publisher_monitor_ =
        wire::SocketMonitor(context_, publisher_, name + "-pub", ZMQ_EVENT_CONNECTED);
    subscriber_monitor_ = wire::SocketMonitor(context_, subscriber_, name + "-sub",
                                              ZMQ_EVENT_CONNECTED | handshake_events);
  }
  connected_ = !tcp                                             ? 1
               : connections_ > 0                               ? connections_
               : wire::wired_towards(host_of(publish_endpoint)) ? wired_links
                                                                : wireless_links;
  for (int i = 0; i < connected_; ++i) {
    publisher_.connect(publish_endpoint);
    if (!subscribe_endpoint.empty()) subscriber_.connect(subscribe_endpoint);
  }
}

std::string MeshLink::listen(const std::string& endpoint) {
  disconnect(0);
  released_ = true;
  publisher_ = mesh_publisher(context_, security_);
  // Its subscribers are nodes' receiving sockets, each subscribed to "all but my own id": the
  // publisher must invert the match as the hub's XPUB does, or they would hear nothing.
  publisher_.set(zmq::sockopt::invert_matching, 1);
  publisher_.bind(endpoint);
  connected_ = 0;
  return publisher_.get(zmq::sockopt::last_endpoint);
}

void MeshLink::disconnect(int linger_ms) {
  ready_ = false;
  publisher_monitor_.stop();
  subscriber_monitor_.stop();
  if (publisher_) {
    publisher_.set(zmq::sockopt::linger, linger_ms);
    publisher_.close();
  }
  if (subscriber_) subscriber_.close();
}

MeshLink::Published MeshLink::publish(wire::MessageType type, std::span<const std::uint8_t> payload,
                                      std::uint64_t time_us) {
  return publish_frame({}, wire::encode(type, id_, next_seq_++, time_us, payload), time_us);
}

MeshLink::Published MeshLink::publish_as(const std::string& sender, std::uint64_t& seq,
                                         wire::MessageType type,
                                         std::span<const std::uint8_t> payload,
                                         std::uint64_t time_us) {
  return publish_frame(sender, wire::encode(type, sender, seq++, time_us, payload), time_us);
}

MeshLink::Published MeshLink::publish_frame(std::string topic, std::vector<std::uint8_t> bytes,
                                            std::uint64_t time_us) {
  Frame frame{time_us, std::move(bytes), std::move(topic)};
  if (ready()) {
    if (!send(frame.topic, frame.bytes)) return Published::dropped;
    remember(std::move(frame));
    return Published::sent;
  }
  if (held_.size() >= max_held || held_bytes_ + frame.bytes.size() > max_held_bytes)
    return Published::dropped;
  held_bytes_ += frame.bytes.size();
  held_.push_back(std::move(frame));
  return Published::held;
}

bool MeshLink::publish_report(wire::MessageType type, std::span<const std::uint8_t> payload,
                              std::uint64_t time_us, std::uint64_t seq, const std::string& sender) {
  if (!ready()) return false;
  return send(sender, wire::encode(type, sender.empty() ? id_ : sender, seq, time_us, payload));
}

void MeshLink::on_publisher_readable() {
  zmq::message_t message;
  while (publisher_.recv(message, zmq::recv_flags::dontwait)) {
    if (message.size() < 1) continue;
    // The hub's XSUB subscribes to everything ("\x01"); losing the connection unsubscribes.
    ready_ = message.data<std::uint8_t>()[0] == 1;
  }
  flush();
}

std::size_t MeshLink::shorten_new_connections() {
  return shorten_reported(publisher_monitor_) + shorten_reported(subscriber_monitor_, &handshakes_);
}

void MeshLink::release() {
  released_ = true;
  flush();
}

void MeshLink::flush() {
  while (ready() && !held_.empty()) {
    if (!send(held_.front().topic, held_.front().bytes)) break;
    held_bytes_ -= held_.front().bytes.size();
    remember(std::move(held_.front()));
    held_.pop_front();
  }
}

void MeshLink::remember(Frame frame) {
  while (!recent_.empty() &&
         (recent_.size() >= max_held || recent_bytes_ + frame.bytes.size() > max_held_bytes ||
          recent_.front().time_us + replay_window_us < frame.time_us)) {
    recent_bytes_ -= recent_.front().bytes.size();
    recent_.pop_front();
  }
  recent_bytes_ += frame.bytes.size();
  recent_.push_back(std::move(frame));
}

bool MeshLink::send(const std::string& topic, const std::vector<std::uint8_t>& frame) {
  try {
    if (!publisher_.send(zmq::buffer(topic.empty() ? id_ : topic),
                         zmq::send_flags::sndmore | zmq::send_flags::dontwait))
      return false;
    return publisher_.send(zmq::buffer(frame), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t&) {
    return false;
  }
}

} // namespace midimesh::node
