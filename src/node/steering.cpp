// Who is the hub, and where this node's link connects: the edge around the pure Election.
// Discovery (mDNS) says who exists and where their hub proxies listen; hellos on the mesh say
// who is alive and what each claims; the Election turns both into one decision, applied here.
// Every node binds its own hub proxy at start, so becoming hub is only a matter of pointing
// everyone's link at it: failover needs no bind, and its port is known in advance.

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

std::string format_host(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

} // namespace

// An address zmq can connect to: IPv4 first (link-local IPv6 needs a scope zmq may not take).
// mDNS's first; when it has none for a node (its record not resolved yet, or only a stale one
// of an earlier run under the same name), the address the node announced in its hello.
const std::string* Node::best_host(const Address& address) {
  for (const auto& h : address.hosts)
    if (h.find(':') == std::string::npos) return &h;
  if (!address.hosts.empty()) return &address.hosts.front();
  return address.announced.empty() ? nullptr : &address.announced;
}

election::PeerState peer_state(const std::string& id, const wire::Hello& hello) {
  election::PeerState state;
  state.candidate = {id, hello.priority, hello.eligible, hello.forced};
  state.is_hub = hello.role == wire::Role::hub;
  state.hub_id = hello.hub;
  state.term = hello.term;
  return state;
}

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
  election::Candidate self{link_.id(), config_.priority, config_.eligible,
                           config_.mode == Mode::hub};
  election_.emplace(self, now_us, config_.election_timing);
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
  announce();
  steer(now_us);
}

void Node::steer(std::uint64_t now_us) {
  const election::Decision decision = election_->decide(now_us);
  report_unanswered();
  switch (decision.action) {
  case election::Decision::Action::become_hub:
    if (target_ != link_.id() || term_ != decision.term) {
      const bool was_hub = is_hub();
      connect_to_hub(link_.id(), decision.term, true, now_us);
      if (!was_hub)
        log::info(component, "this node is now the hub of mesh \"{}\" (term {})", config_.mesh,
                  decision.term);
    }
    break;
  case election::Decision::Action::follow:
    if (target_ != decision.hub_id || term_ != decision.term)
      connect_to_hub(decision.hub_id, decision.term, true, now_us);
    break;
  case election::Decision::Action::wait:
    // Connect ahead to the node expected to claim: we hear its claim the moment it makes it.
    if (!decision.hub_id.empty() && target_ != decision.hub_id)
      connect_to_hub(decision.hub_id, decision.term, false, now_us);
    break;
  }
  update_probe();
}

void Node::refuse_claim(const std::string& id, const std::string& why) {
  ++counters_.refused_claims;
  if (distrust_logged_.insert(id).second)
    log::warn(component, "refused a hub claim from {}: {}; the mesh keeps its hub{}",
              peer_label(id), why,
              distrust_logged_.size() == 1 ? "" : " (further refusals are only counted)");
}

void Node::report_unanswered() {
  const std::uint64_t count = election_->unanswered_count();
  if (count == unanswered_reported_) return;
  unanswered_reported_ = count;
  for (const auto& [id, when] : election_->unanswered())
    if (!distrust_logged_.contains(id))
      refuse_claim(id, fmt::format("it did not answer through its own hub proxy within {} ms",
                                   config_.election_timing.claim_timeout_us / 1000));
}

void Node::update_probe() {
  const std::string& id = election_->checking();
  // Connected ahead to it already (no working hub): the link itself is the check.
  if (id.empty() || id == target_) {
    if (probe_) probe_.close();
    probe_id_.clear();
    return;
  }
  if (probe_ && probe_id_ == id) return;
  if (probe_) probe_.close();
  probe_id_.clear();
  auto it = directory_.find(id);
  const std::string* host = it == directory_.end() ? nullptr : best_host(it->second);
  if (!host || !it->second.port) return; // checked once discovery says where it listens
  // A claim pointing at another node's proxy would be "answered" by whatever travels there
  // (the claimant's own forged hellos included): only the claimant's own proxy can answer.
  for (const auto& [other, address] : directory_) {
    const std::string* other_host = best_host(address);
    if (other != id && other_host && *other_host == *host && address.port == it->second.port) {
      if (distrust_logged_.insert(id).second)
        log::warn(component, "{} claims the hub at {}:{}, where {} listens: not checking it",
                  peer_label(id), format_host(*host), it->second.port, peer_label(other));
      return;
    }
  }
  probe_ = zmq::socket_t(context_, zmq::socket_type::sub);
  wire::apply_common_options(probe_);
  probe_.set(zmq::sockopt::linger, 0);
  probe_.set(zmq::sockopt::invert_matching, 1); // a member's SUB, as PROTOCOL.md says
  probe_.set(zmq::sockopt::subscribe, link_.id());
  config_.security.client(probe_);
  probe_.connect(wire::subscribe_endpoint({*host, it->second.port}));
  probe_id_ = id;
  log::info(component, "checking the hub claim of {} at {}:{} before following it", peer_label(id),
            format_host(*host), it->second.port);
}

void Node::on_probe_readable(std::uint64_t now_us) {
  zmq::message_t topic, body;
  bool answered = false;
  for (int i = 0; i < 512 && probe_; ++i) {
    if (!probe_.recv(topic, zmq::recv_flags::dontwait)) break;
    if (!topic.more()) continue;
    (void)probe_.recv(body, zmq::recv_flags::none);
    while (body.more())
      (void)probe_.recv(body, zmq::recv_flags::none);
    const wire::Decoded decoded = wire::decode({body.data<std::uint8_t>(), body.size()});
    if (!decoded || decoded.envelope->sender != probe_id_ ||
        decoded.envelope->type != static_cast<std::uint8_t>(wire::MessageType::hello))
      continue; // its mesh's traffic: only its own hello matters here
    const auto hello = wire::decode_hello(decoded.envelope->payload);
    if (!hello || hello->mesh != config_.mesh || hello->role != wire::Role::hub) continue;
    if (!election_->peer_seen(peer_state(probe_id_, *hello), now_us, election::Heard::first_hand)) {
      refuse_claim(probe_id_, fmt::format("term {} is beyond any election", hello->term));
      continue;
    }
    log::info(component, "hub {} answered through its own proxy (term {})", peer_label(probe_id_),
              hello->term);
    answered = true;
    break;
  }
  if (answered) steer(now_us); // closes the probe: the claim is checked
}

void Node::connect_to_hub(const std::string& hub_id, std::uint64_t term, bool claimed,
                          std::uint64_t now_us) {
  const bool same_hub = hub_id == target_;
  if (same_hub) { // only the term moved (a re-claim after a split brain)
    term_ = term;
    announce();
    return;
  }
  if (hub_id == link_.id()) {
    // Taking over: the peers we know come over within a heartbeat or so of each other, each
    // resending what the old hub may have swallowed, and so do we. Forwarded before all have
    // attached, that would be lost for the late ones: the hub holds it until they are here.
    hub_->hold(peers_.nodes() + 1, now_us + config_.hub_timeout_us, now_us);
    link_.connect(hub_->local_publish(), hub_->local_subscribe());
  } else {
    auto it = directory_.find(hub_id);
    const std::string* host = it == directory_.end() ? nullptr : best_host(it->second);
    if (!host || !it->second.port) {
      if (wanted_ != hub_id)
        log::info(component, "waiting for discovery to tell where {} listens", peer_label(hub_id));
      wanted_ = hub_id;
      return;
    }
    const wire::HostPort address{*host, it->second.port};
    link_.connect(wire::publish_endpoint(address), wire::subscribe_endpoint(address));
    own_address_ = wire::local_address_towards(*host);
    target_host_ = *host;
    target_claimed_ = claimed;
    // Its proxy forwards to no one until it claims: what we send waits for its first hello.
    if (!claimed) link_.hold_back();
    log::info(component, "connecting to hub {} at {}:{} (term {}{})", peer_label(hub_id),
              format_host(*host), address.port, term, claimed ? "" : ", before its claim");
  }
  wanted_.clear();
  // A hub change releases no note: what the old hub swallowed comes again in its senders'
  // replays, and a loss the replay does not cover shows as a gap, which releases that
  // sender's notes (on_envelope). A player holding a chord through a failover keeps it.
  if (!target_.empty()) ++counters_.hub_changes;
  target_ = hub_id;
  term_ = term;
  heard_target_ = false;
  joined_ = false;
  target_since_us_ = now_us;
  hello_now();
  announce();
  check_joined();
}

void Node::check_hub_alive(std::uint64_t now_us) {
  if (target_.empty() || is_hub()) return;
  const Peer* hub = peers_.find(target_);
  const std::uint64_t last = hub && heard_target_ ? hub->last_heard_us : target_since_us_;
  // A hub never heard gets the election's claim time; a hub that went silent, hub_timeout.
  const std::uint64_t limit =
      heard_target_ ? config_.hub_timeout_us : config_.election_timing.claim_timeout_us * 2;
  if (now_us < last + limit) return;
  log::warn(component, "hub {} silent for {} ms: electing another", peer_label(target_),
            (now_us - last) / 1000);
  peer_lost(target_, "it went silent", now_us);
}

void Node::peer_lost(const std::string& id, const std::string& why, std::uint64_t now_us) {
  peers_.remove(id);
  lost_.insert(id);
  release_notes(id, why);
  if (!election_) return;
  election_->peer_lost(id, now_us);
  if (id == target_) {
    target_.clear(); // the next decision connects somewhere else
    heard_target_ = false;
    joined_ = false;
  }
  steer(now_us);
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
  // Every node ever discovered, the ones we gave up for gone included: a cut cable heals.
  for (const auto& [id, address] : directory_) {
    const std::string* host = best_host(address);
    if (id == link_.id() || !host || !address.port) continue;
    const std::string endpoint = wire::publish_endpoint({*host, address.port});
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
  h.hub = target_;
  // With no hub yet, the highest term seen: the next election must move past it.
  h.term = target_.empty() && election_ ? election_->highest_term() : term_;
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
  record.hub_id = target_;
  record.term = term_;
  record.port = hub_ ? hub_->port() : 0;
  discovery_->announce(record);
}

void Node::node_seen(const discovery::SeenNode& node) {
  const discovery::NodeRecord& r = node.record;
  if (r.id.empty() || r.id == link_.id()) return;
  Address& address = directory_[r.id];
  const bool first = address.hosts.empty();
  address.hosts = node.addresses;
  if (r.port) address.port = r.port;
  if (first)
    log::info(component, "found \"{}\" ({}) on {} by mDNS: {} at {}", r.name, r.id, node.host,
              r.role, fmt::join(node.addresses, ", "));
  const std::uint64_t now = now_us_;
  // mDNS may first give an address the hub cannot be reached at (::1 or a link-local IPv6
  // one, while it listens on IPv4 only or zmq cannot scope it) and the IPv4 one a moment
  // later. Until the hub has answered, move to the best address known: the first one would
  // never answer, and we would end up electing a rival hub.
  if (r.id == target_ && !heard_target_ && !is_hub()) {
    const std::string* host = best_host(address);
    if (host && *host != target_host_) {
      target_.clear(); // a fresh connection to the same node, not a change of hub
      connect_to_hub(r.id, term_, target_claimed_, now);
    }
  }
  // A hub by its record: when it steps down, its link replays its last hub hellos into ours,
  // which is no forgery (on_hello).
  if (r.role == "hub") rivals_seen_.insert(r.id);
  // mDNS caches outlive crashed nodes, so what it says only counts for nodes the mesh has not
  // told us about yet: hellos are the live source.
  if (!peers_.find(r.id)) {
    election::PeerState state;
    state.candidate = {r.id, r.priority, r.eligible, false};
    state.is_hub = r.role == "hub";
    state.hub_id = r.hub_id;
    state.term = r.term;
    if (!lost_.contains(r.id) && !election_->peer_seen(state, now, election::Heard::second_hand))
      refuse_claim(r.id, fmt::format("its mDNS record names term {}", r.term));
  }
  steer(now); // a new claim, or the address of a hub we were waiting to reach
}

void Node::node_gone(const std::string& id) {
  // A clean exit withdraws the service about a second after the goodbye on the mesh, which has
  // already been handled; for a node the mesh never heard, this is the only news. Its address
  // stays in the directory: mDNS caches disagree after restarts (a node's old record can
  // outlive its new one), and the mesh, not mDNS, says who is alive.
  if (!peers_.find(id) && election_) election_->peer_lost(id, now_us_);
}

} // namespace midimesh::node
