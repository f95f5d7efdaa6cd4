// Who is the hub, and where this node's link connects: the sockets around the pure
// failover::HubSteering (src/failover/), which decides. Discovery (mDNS) says who exists and
// where their hub proxies listen; hellos on the mesh say who is alive and what each claims;
// HubSteering turns both into actions, applied here: the link's connections, the hub proxy's
// hold, the probe that checks a claim, the log lines and counters, the mDNS record, the beacon.

#include "log/log.hpp"
#include "midimesh_config.h"
#include "node/node.hpp"

#include <fmt/format.h>

namespace midimesh::node {
namespace {

constexpr std::string_view component = "mesh";
// How often a hub tells the other nodes' proxies it exists. A rival hub's members hear it, so
// two hubs that could not see each other (a partition, now healed) settle on one.
constexpr std::uint64_t beacon_interval_us = 500'000;

template <class... F> struct Overloaded : F... { using F::operator()...; };
template <class... F> Overloaded(F...) -> Overloaded<F...>;

std::string format_host(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

} // namespace

void Node::start_roles(std::uint64_t now_us) {
  hub::HubConfig hub_config;
  hub_config.bind_address = config_.bind_address;
  hub_config.port = config_.port;
  hub_config.security = config_.security;
  hub_config.budget = config_.budget;
  try {
    hub_ = std::make_unique<hub::Hub>(context_, hub_config);
  } catch (const hub::HubError& e) {
    // Several nodes on one computer (or a busy port): any free port will do, since discovery
    // tells the others which one. A forced hub was asked for this port: that is fatal.
    if (config_.mode == Mode::hub || config_.port == 0) throw;
    log::info(component, "port {} is taken ({}); this node's hub proxy uses a free port instead",
              config_.port, e.what());
    hub_config.port = 0;
    hub_ = std::make_unique<hub::Hub>(context_, hub_config);
  }
  if (config_.discovery) {
#ifdef MIDIMESH_HAVE_DNS_SD
    // It logs for itself once it browses, or what is missing when it cannot.
    discovery_ = discovery::make_dns_sd_discovery(*this, config_.mesh, hub_->port(),
                                                  config_.security.keys());
#else
    log::warn(component, "this midimesh was built without mDNS: other nodes cannot find it; "
                         "join them with --connect HOST");
#endif
  }
  failover::Actions actions;
  steering_.elect({link_.id(), config_.priority, config_.eligible, config_.mode == Mode::hub},
                  now_us, actions);
  apply(actions, now_us);
}

void Node::steer(std::uint64_t now_us) {
  failover::Actions actions;
  steering_.steer(now_us, actions);
  apply(actions, now_us);
}

void Node::apply(const failover::Actions& actions, std::uint64_t now_us) {
  for (const failover::Action& action : actions)
    apply(action, now_us);
}

void Node::apply(const failover::Action& action, std::uint64_t now_us) {
  using namespace failover;
  // One case per action: a new kind of action that the node does not apply does not compile.
  std::visit(
      Overloaded{
          [&](const Connect& c) {
            const wire::HostPort address{c.host, c.port};
            link_.connect(wire::publish_endpoint(address), wire::subscribe_endpoint(address));
            own_address_ = wire::local_address_towards(c.host);
            // Its proxy forwards to no one until it claims: what we send waits for its hello.
            if (!c.claimed) link_.hold_back();
            log::info(component, "connecting to hub {} at {}:{} (term {}{})", peer_label(c.hub_id),
                      format_host(c.host), c.port, c.term, c.claimed ? "" : ", before its claim");
            hub_switched(c.hub_change);
          },
          [&](const BecomeHub& h) {
            hub_->hold(peers_.nodes() + 1, h.hold_until_us, now_us);
            link_.connect(hub_->local_publish(), hub_->local_subscribe());
            hub_switched(h.hub_change);
            log::info(component, "this node is now the hub of mesh \"{}\" (term {})", config_.mesh,
                      h.term);
          },
          [&](const AwaitAddress& a) {
            log::info(component, "waiting for discovery to tell where {} listens",
                      peer_label(a.hub_id));
          },
          [&](const Announce&) { announce(); },
          [&](const ReleaseLink&) {
            link_.release();
            check_joined();
          },
          [&](const HubAnswered&) { check_joined(); },
          [&](const Forget& f) {
            peers_.remove(f.id);
            if (f.our_hub) joined_ = false;
          },
          [&](const ReleaseNotes& r) { release_notes(r.sender, r.why); },
          [&](const HubSilent& s) {
            log::warn(component, "hub {} silent for {} ms: electing another", peer_label(s.id),
                      s.silent_ms);
          },
          [&](const RivalHeard& r) {
            log::info("mesh", "another hub claims this mesh: \"{}\" ({}), term {}; settling on one",
                      r.name, r.id, r.term);
          },
          [&](const Refuse& r) {
            ++counters_.refused_claims;
            if (r.log)
              log::warn(component, "refused a hub claim from {}: {}; the mesh keeps its hub{}",
                        peer_label(r.id), r.why,
                        r.first ? "" : " (further refusals are only counted)");
          },
          [&](const OpenCheck& o) { open_probe(o); },
          [&](const CloseCheck&) { probe_.close(); },
          [&](const SkipCheck& k) {
            log::warn(component, "{} claims the hub at {}:{}, where {} listens: not checking it",
                      peer_label(k.id), format_host(k.host), k.port, peer_label(k.owner));
          },
          [&](const ClaimAnswered& a) {
            log::info(component, "hub {} answered through its own proxy (term {})",
                      peer_label(a.id), a.term);
          },
      },
      action);
}

void Node::hub_switched(bool hub_change) {
  // A hub change releases no note (hub_steering.hpp says why): a chord held through a
  // failover sounds on.
  if (hub_change) ++counters_.hub_changes;
  joined_ = false;
  hello_now();
  announce();
  check_joined();
}

void Node::open_probe(const failover::OpenCheck& check) {
  probe_ = zmq::socket_t(context_, zmq::socket_type::sub);
  wire::apply_common_options(probe_);
  probe_.set(zmq::sockopt::linger, 0);
  probe_.set(zmq::sockopt::invert_matching, 1); // a member's SUB, as PROTOCOL.md says
  probe_.set(zmq::sockopt::subscribe, link_.id());
  config_.security.client(probe_);
  probe_.connect(wire::subscribe_endpoint({check.host, check.port}));
  log::info(component, "checking the hub claim of {} at {}:{} before following it",
            peer_label(check.id), format_host(check.host), check.port);
}

void Node::on_probe_readable(std::uint64_t now_us) {
  zmq::message_t topic, body;
  for (int i = 0; i < 512 && probe_; ++i) {
    if (!probe_.recv(topic, zmq::recv_flags::dontwait)) break;
    if (!topic.more()) continue;
    (void)probe_.recv(body, zmq::recv_flags::none);
    while (body.more())
      (void)probe_.recv(body, zmq::recv_flags::none);
    const wire::Decoded decoded = wire::decode({body.data<std::uint8_t>(), body.size()});
    if (!decoded || decoded.envelope->sender != steering_.checking() ||
        decoded.envelope->type != static_cast<std::uint8_t>(wire::MessageType::hello))
      continue; // its mesh's traffic: only its own hello matters here
    const auto hello = wire::decode_hello(decoded.envelope->payload);
    if (!hello || hello->mesh != config_.mesh) continue;
    failover::Actions actions;
    const bool answered = steering_.on_check_hello(*hello, now_us, actions);
    apply(actions, now_us);
    if (answered) break;
  }
}

void Node::send_beacons(std::uint64_t now_us) {
  if (!is_hub()) {
    if (beacon_) {
      beacon_.close();
      beacon_endpoints_.clear();
    }
    return;
  }
  if (!beacon_) {
    beacon_ = zmq::socket_t(context_, zmq::socket_type::pub);
    wire::apply_common_options(beacon_);
    config_.security.client(beacon_);
  }
  for (const failover::ProxyAddress& proxy : steering_.proxies()) {
    const std::string endpoint = wire::publish_endpoint({proxy.host, proxy.port});
    if (beacon_endpoints_.insert(endpoint).second) beacon_.connect(endpoint);
  }
  if (now_us < next_beacon_us_) return;
  next_beacon_us_ = now_us + beacon_interval_us;
  const auto frame = wire::encode(wire::MessageType::hub_beacon, link_.id(), beacon_seq_++, 0,
                                  wire::encode_payload(hello()));
  (void)beacon_.send(zmq::buffer(link_.id()), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  (void)beacon_.send(zmq::buffer(frame), zmq::send_flags::dontwait);
}

wire::Hello Node::hello() const {
  wire::Hello h;
  h.name = config_.name;
  h.role = is_hub() ? wire::Role::hub : wire::Role::node;
  h.program = std::string("midimesh ") + MIDIMESH_VERSION;
  h.mesh = config_.mesh;
  h.priority = config_.priority;
  h.eligible = config_.eligible && config_.mode != Mode::connect;
  h.forced = config_.mode == Mode::hub;
  h.hub = steering_.hub();
  h.term = steering_.announced_term();
  h.hub_port = hub_ ? hub_->port() : 0;
  h.address = own_address_;
  return h;
}

void Node::announce() {
  if (!discovery_) return;
  discovery::NodeRecord record;
  record.id = link_.id();
  record.name = config_.name;
  record.mesh = config_.mesh;
  record.priority = config_.priority;
  record.eligible = config_.eligible;
  record.role = is_hub() ? "hub" : "node";
  record.hub_id = steering_.hub();
  record.term = steering_.term();
  record.port = hub_ ? hub_->port() : 0;
  discovery_->announce(record);
}

void Node::node_seen(const discovery::SeenNode& node) {
  const discovery::NodeRecord& r = node.record;
  failover::Sighting sighting{r.id,     r.priority, r.eligible, r.role == "hub",
                              r.hub_id, r.term,     r.port,     node.addresses};
  failover::Actions actions;
  if (steering_.on_record(sighting, peers_.find(r.id) != nullptr, now_us_, actions))
    log::info(component, "found \"{}\" ({}) on {} by mDNS: {} at {}", r.name, r.id, node.host,
              r.role, fmt::join(node.addresses, ", "));
  apply(actions, now_us_);
}

void Node::node_gone(const std::string& id) {
  steering_.on_record_gone(id, peers_.find(id) != nullptr, now_us_);
}

} // namespace midimesh::node
