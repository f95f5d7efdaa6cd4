#include "node/node.hpp"

#include "log/log.hpp"
#include "midi/midi_message.hpp"
#include "midimesh_config.h"
#include "platform/poll_item.hpp"
#include "security/passphrase.hpp"

#include <chrono>
#include <fmt/format.h>
#include <random>

namespace midimesh::node {
namespace {

constexpr std::string_view component = "node";
// Until the hub has answered, hello often so that joining takes milliseconds, not a heartbeat.
constexpr std::uint64_t joining_hello_us = 50'000;
// How long the goodbye and the last note-offs may take to leave at shutdown.
constexpr int goodbye_linger_ms = 300;

std::uint64_t steady_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

std::uint64_t wall_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

// Throttled log lines end with this.
constexpr auto suffix = log::since_last_report;

} // namespace

std::string make_node_id() {
  std::random_device device;
  const std::uint64_t value = (static_cast<std::uint64_t>(device()) << 32) ^ device();
  return fmt::format("{:016x}", value);
}

Node::Node(NodeConfig config)
    : config_(std::move(config)), context_(1),
      link_(context_, make_node_id(), config_.connections, config_.security),
      steering_(
          {link_.id(), config_.hub_timeout_us, config_.peer_timeout_us, config_.election_timing}) {
  now_us_ = steady_us();
  started_us_ = now_us_;
  log::info(component, "midimesh {} node \"{}\" id {}", MIDIMESH_VERSION, config_.name, link_.id());
  if (config_.security.secured()) {
    zap_.emplace(context_, *config_.security.keys());
    log::info("security",
              "mesh \"{}\" is secured: only computers with its passphrase can join, listen "
              "or take part in the election",
              config_.mesh);
  }
  if (config_.midi) {
    try {
      config_.midi_config.log = [](const std::string& line) { log::warn("midi", "{}", line); };
      midi_ = midi::open_midi_ports(config_.midi_config);
      log::info("midi", "{}", midi_->describe());
    } catch (const midi::MidiError& e) {
      log::error("midi",
                 "no MIDI ports: {} Running without MIDI for now: the node still relays "
                 "and counts.",
                 e.what());
    }
  } else {
    log::info("midi", "MIDI ports disabled (--no-midi)");
  }
  // Only now: opening MIDI can take seconds (a JACK server), and the election's startup grace
  // must not run out while this node cannot even browse yet.
  if (config_.mode == Mode::connect) {
    const std::string pub = wire::publish_endpoint(config_.hub_address);
    const std::string sub = wire::subscribe_endpoint(config_.hub_address);
    log::info(component, "joining the hub at {} (publish {}, subscribe {})",
              config_.hub_address.host, pub, sub);
    link_.connect(pub, sub);
    last_mesh_rx_us_ = now_us_;
  } else {
    start_roles(steady_us());
  }
  start_rtp_midi();
}

Node::~Node() = default;

int Node::run() {
  int exit_code = 0;
  for (;;) {
    try {
      loop();
      break;
    } catch (const std::exception& e) {
      // A signal (SIGUSR1 asking for the counters) can interrupt a ZeroMQ call other than the
      // poll: nothing is wrong, and the signal's byte waits in the pipe. Go on.
      if (const auto* z = dynamic_cast<const zmq::error_t*>(&e); z && z->num() == EINTR) continue;
      // Anything else (a ZeroMQ call that failed, memory exhausted): the mesh must still hear
      // our goodbye, and the outputs their note-offs.
      log::error(component, "stopping after an unexpected error: {}; leaving the mesh cleanly",
                 e.what());
      exit_code = 1;
      break;
    }
  }
  try {
    shutdown();
  } catch (const std::exception& e) {
    log::error(component, "leaving the mesh failed half-way: {}", e.what());
    exit_code = 1;
  }
  return exit_code;
}

void Node::loop() {
  std::vector<zmq::pollitem_t> items;
  while (!stopping_) {
    items.clear();
    items.push_back(platform::fd_item(signals_.fd()));
    // Until the election names a hub the link has no sockets: their items never fire.
    const bool linked = link_.connected();
    items.push_back(platform::socket_item(linked ? link_.subscriber().handle() : nullptr));
    items.push_back(platform::socket_item(linked ? link_.publisher().handle() : nullptr));
    items.push_back(platform::socket_item(probe_ ? probe_.handle() : nullptr)); // a claim's check
    items.push_back(platform::socket_item(zap_ ? zap_->socket().handle() : nullptr));
    const std::size_t midi_index = items.size();
    if (midi_) items.push_back(platform::fd_item(midi_->input_fd()));
    const std::size_t hub_index = items.size();
    if (hub_) hub_->add_poll_items(items);
    const std::size_t discovery_index = items.size();
    if (discovery_)
      for (int fd : discovery_->fds())
        items.push_back(platform::fd_item(fd));
    const std::size_t rtp_index = items.size();
    if (rtp_)
      for (int fd : rtp_->fds())
        items.push_back(platform::fd_item(fd));
    const std::size_t advertisement_index = items.size();
    if (rtp_advertisement_)
      for (int fd : rtp_advertisement_->fds())
        items.push_back(platform::fd_item(fd));
    const std::size_t discovery_end = rtp_index;

    const std::uint64_t now = steady_us();
    std::uint64_t wake_us = next_hello_us_;
    if (discovery_ && discovery_->next_wakeup_us())
      wake_us = std::min(wake_us, discovery_->next_wakeup_us());
    if (hub_ && hub_->next_wakeup_us()) wake_us = std::min(wake_us, hub_->next_wakeup_us());
    if (rtp_ && rtp_->next_wakeup_us()) wake_us = std::min(wake_us, rtp_->next_wakeup_us());
    if (rtp_advertisement_ && rtp_advertisement_->next_wakeup_us())
      wake_us = std::min(wake_us, rtp_advertisement_->next_wakeup_us());
    const auto wait_ms = wake_us > now ? (wake_us - now + 999) / 1000 : 0;
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(wait_ms));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
      continue; // a signal: its byte is waiting in the signal pipe
    }

    const std::uint64_t after = steady_us();
    now_us_ = after;
    if (items[0].revents & ZMQ_POLLIN) {
      for (auto request = signals_.take(); request != SignalPipe::Request::none;
           request = signals_.take()) {
        if (request == SignalPipe::Request::log_stats)
          log_stats();
        else
          stopping_ = true;
      }
    }
    if (hub_) hub_->on_poll(&items[hub_index], after);
    if (items[2].revents & ZMQ_POLLIN) on_publisher_readable();
    if (items[1].revents & ZMQ_POLLIN) on_mesh_readable(after);
    if (items[3].revents & ZMQ_POLLIN) on_probe_readable(after);
    if (items[4].revents & ZMQ_POLLIN) on_zap_request(after);
    if (midi_ && (items[midi_index].revents & ZMQ_POLLIN)) on_midi_input();
    if (discovery_) {
      bool readable = false;
      for (std::size_t i = discovery_index; i < discovery_end; ++i)
        readable = readable || (items[i].revents & ZMQ_POLLIN);
      const std::uint64_t wakeup = discovery_->next_wakeup_us();
      if (readable || (wakeup && after >= wakeup)) discovery_->process(after);
    }
    if (rtp_) {
      bool readable = false;
      for (std::size_t i = rtp_index; i < advertisement_index; ++i)
        readable = readable || (items[i].revents & ZMQ_POLLIN);
      if (readable) rtp_->on_readable(after);
      const std::uint64_t wakeup = rtp_->next_wakeup_us();
      if (wakeup && after >= wakeup) rtp_->tick(after);
    }
    if (rtp_advertisement_) {
      bool readable = false;
      for (std::size_t i = advertisement_index; i < items.size(); ++i)
        readable = readable || (items[i].revents & ZMQ_POLLIN);
      const std::uint64_t wakeup = rtp_advertisement_->next_wakeup_us();
      if (readable || (wakeup && after >= wakeup)) rtp_advertisement_->process(after);
    }
    if (after >= next_hello_us_) {
      tick(after);
      report_bursts(after);
      flush_throttled_logs(after);
    }
    if (midi_) flush_midi(after);
    if (rtp_) rtp_->flush(after);
  }
}

void Node::on_mesh_readable(std::uint64_t now_us) {
  zmq::message_t topic, body;
  // Bounded batch: MIDI input and the hub's own sockets must not wait behind a flood.
  for (int i = 0; i < 512; ++i) {
    if (!link_.subscriber().recv(topic, zmq::recv_flags::dontwait)) return;
    if (!topic.more()) {
      ++counters_.malformed;
      continue;
    }
    (void)link_.subscriber().recv(body, zmq::recv_flags::none);
    while (body.more()) // a v1 message has two frames; skip the rest of a longer one
      (void)link_.subscriber().recv(body, zmq::recv_flags::none);
    last_mesh_rx_us_ = now_us;
    const wire::Decoded decoded = wire::decode({body.data<std::uint8_t>(), body.size()});
    if (decoded && topic.to_string_view() != decoded.envelope->sender) {
      // The hub refuses these; one that gets here came through a hub that does not check.
      ++counters_.malformed;
      std::uint64_t suppressed = 0;
      if (malformed_log_.admit(now_us, suppressed))
        log::warn(component,
                  "dropped a message whose topic is not its sender {}; the node goes "
                  "on{}",
                  decoded.envelope->sender, suffix(suppressed));
      continue;
    }
    if (!decoded) {
      const std::string from(topic.to_string_view().substr(0, wire::node_id_length));
      if (decoded.error == wire::DecodeError::version_mismatch) {
        ++counters_.version_mismatch;
        if (!version_warned_[from])
          log::warn(component,
                    "ignoring peer {}: it speaks protocol version {}, this node speaks {}; "
                    "upgrade one of them to bring it into the mesh",
                    from, decoded.version, wire::protocol_version);
        version_warned_[from] = true;
        continue;
      }
      ++counters_.malformed;
      std::uint64_t suppressed = 0;
      if (malformed_log_.admit(now_us, suppressed))
        log::warn(component, "dropped a {} from the mesh; the node goes on{}",
                  wire::describe(decoded.error), suffix(suppressed));
      continue;
    }
    on_envelope(*decoded.envelope, now_us);
  }
}

void Node::on_envelope(const wire::Envelope& envelope, std::uint64_t now_us) {
  if (envelope.type == static_cast<std::uint8_t>(wire::MessageType::hub_beacon)) {
    on_beacon(envelope, now_us);
    return;
  }
  const Arrival arrival = peers_.arrive(envelope.sender, envelope.seq, now_us);
  if (arrival.stale) return;
  if (arrival.lost) {
    counters_.lost = saturating_add(counters_.lost, arrival.lost);
    if (arrival.burst_started)
      log::warn(component,
                "lost {} message(s) from {} (sequence gap); counting the rest of this "
                "burst",
                arrival.lost, peer_label(envelope.sender));
    // Only a loss can leave a note stuck while its player lives on: a note-off may be among
    // what was lost. Released before this message plays: it may hold a note again.
    release_notes(envelope.sender, fmt::format("{} message(s) from it were lost, a note-off "
                                               "may be among them",
                                               arrival.lost));
  }
  if (arrival.out_of_line || arrival.resync) note_sequence_event(envelope.sender, arrival, now_us);
  Peer& peer = *peers_.find(envelope.sender);
  switch (static_cast<wire::MessageType>(envelope.type)) {
  case wire::MessageType::midi:
    if (peer.foreign_mesh) {
      ++counters_.foreign_mesh;
      break;
    }
    deliver(envelope.sender, envelope.payload, now_us);
    break;
  case wire::MessageType::hello:
    on_hello(envelope, peer, now_us);
    break;
  case wire::MessageType::goodbye:
    on_goodbye(envelope, now_us);
    break;
  case wire::MessageType::ping:
    on_ping(envelope);
    break;
  case wire::MessageType::pong:
    on_pong(envelope);
    break;
  default:
    ++counters_.unknown_type; // a newer peer's message: ignore, as PROTOCOL.md says
  }
}

void Node::note_sequence_event(const std::string& sender, const Arrival& arrival,
                               std::uint64_t now_us) {
  if (arrival.out_of_line) ++counters_.out_of_line;
  if (arrival.resync) ++counters_.seq_resyncs;
  std::uint64_t suppressed = 0;
  if (!sequence_log_.admit(now_us, suppressed)) return;
  if (arrival.resync)
    log::warn(component,
              "the numbering of {} jumped from {} to {}, too far for a loss: taken as a restart "
              "of its numbering, nothing counted lost; receiving from it normally{}",
              peer_label(sender), arrival.resync_from, arrival.resync_to, suffix(suppressed));
  else
    log::warn(component,
              "a message under the id of {} was numbered off its line, and its next message "
              "went on from the line: not its own (forged or corrupt); the line goes on{}",
              peer_label(sender), suffix(suppressed));
}

void Node::on_hello(const wire::Envelope& envelope, Peer& peer, std::uint64_t now_us) {
  const auto hello = wire::decode_hello(envelope.payload);
  if (!hello) {
    ++counters_.malformed;
    return;
  }
  if (hello->mesh != config_.mesh) {
    if (!peer.foreign_mesh)
      log::warn(component,
                "ignoring peer \"{}\" ({}): it belongs to mesh \"{}\", not \"{}\"; its MIDI "
                "is not played",
                hello->name, peer.id, hello->mesh, config_.mesh);
    peer.foreign_mesh = true;
    peer.name = hello->name;
    return;
  }
  peer.foreign_mesh = false;
  const bool first = peer.name.empty();
  peer.name = hello->name;
  peer.role = hello->role;
  peer.bridged = hello->kind != "node";
  if (first && peer.bridged) {
    log::info(component, "peer {} joined ({} member, through {})", peer_label(peer.id),
              hello->kind == "rtp" ? "RTP-MIDI" : hello->kind,
              hello->via == link_.id() ? "this node" : peer_label(hello->via));
  } else if (first) {
    log::info(component, "peer {} joined ({}, {})", peer_label(peer.id),
              hello->role == wire::Role::hub ? "hub" : "node", hello->program);
    // Answer at once so the newcomer learns about us without waiting a heartbeat.
    hello_now();
  }
  // Whether it is our hub answering, a claim to refuse or news for the election.
  failover::Actions actions;
  steering_.on_hello(peer.id, *hello, peer.bridged, now_us, actions);
  apply(actions, now_us);
}

void Node::on_beacon(const wire::Envelope& envelope, std::uint64_t now_us) {
  const auto hello = wire::decode_hello(envelope.payload);
  if (!hello) {
    ++counters_.malformed;
    return;
  }
  if (hello->mesh != config_.mesh) return;
  failover::Actions actions;
  steering_.on_beacon(envelope.sender, *hello, now_us, actions);
  apply(actions, now_us);
}

void Node::on_goodbye(const wire::Envelope& envelope, std::uint64_t now_us) {
  const auto goodbye = wire::decode_goodbye(envelope.payload);
  const std::string label = peer_label(envelope.sender);
  log::info(component, "peer {} left ({})", label, goodbye ? goodbye->reason : "no reason given");
  failover::Actions actions;
  steering_.peer_lost(envelope.sender, "it left", now_us, actions);
  apply(actions, now_us);
}

void Node::deliver(const std::string& sender, std::span<const std::uint8_t> midi,
                   std::uint64_t now_us) {
  if (!midi::is_complete_message(midi)) {
    ++counters_.malformed;
    std::uint64_t suppressed = 0;
    if (malformed_log_.admit(now_us, suppressed))
      log::warn(component, "dropped an invalid MIDI message ({} bytes) from {}{}", midi.size(),
                peer_label(sender), suffix(suppressed));
    return;
  }
  ++counters_.midi_received;
  counters_.midi_received_bytes += midi.size();
  if (rtp_) rtp_->play(sender, midi);
  if (!midi_) return;
  const midi::SendResult result = midi_->send(midi);
  if (result == midi::SendResult::sent) {
    notes_.observe(sender, midi);
    return;
  }
  ++counters_.backend_rejected;
  std::uint64_t suppressed = 0;
  if (backend_log_.admit(now_us, suppressed))
    log::warn(
        "midi", "could not play a {}-byte message from {} on the MIDI output: {}{}", midi.size(),
        peer_label(sender),
        result == midi::SendResult::too_large
            ? fmt::format("larger than the backend carries ({} bytes)", midi_->max_message_size())
            : std::string("the backend refused it"),
        suffix(suppressed));
}

void Node::flush_midi(std::uint64_t now_us) {
  const std::size_t dropped = midi_->flush();
  if (!dropped) return;
  counters_.backend_rejected += dropped;
  std::uint64_t suppressed = 0;
  if (backend_log_.admit(now_us, suppressed))
    log::warn("midi",
              "the MIDI output could not take {} message(s) from the mesh: its queue was "
              "full{}",
              dropped, suffix(suppressed));
}

void Node::on_handshakes(std::uint64_t now_us) {
  const std::string& host =
      config_.mode == Mode::connect ? config_.hub_address.host : steering_.hub_host();
  for (const MeshLink::Handshake outcome : link_.take_handshakes()) {
    if (outcome == MeshLink::Handshake::succeeded) continue;
    ++counters_.failed_handshakes;
    std::uint64_t suppressed = 0;
    if (!handshake_log_.admit(now_us, suppressed)) continue;
    const bool secured = config_.security.secured();
    std::string what;
    // libzmq's reasons are vague (a NULL client meeting a CURVE server may fail either way);
    // what the user must do depends on which side is secured.
    if (!secured)
      what = fmt::format("the hub at {} refused an open connection: mesh \"{}\" is secured? "
                         "Start midimesh with --secret-file FILE or {} set to its passphrase",
                         host, config_.mesh, security::secret_variable);
    else if (outcome == MeshLink::Handshake::other_mechanism)
      what = fmt::format("the hub at {} is not secured (an open mesh, or not midimesh): not "
                         "joining it without the passphrase",
                         host);
    else
      what = fmt::format("mesh \"{}\" is secured and your passphrase does not match (the hub "
                         "at {} refused our handshake)",
                         config_.mesh, host);
    log::error("security", "{}; retrying{}", what, suffix(suppressed));
  }
}

void Node::on_zap_request(std::uint64_t now_us) {
  for (const auto& refusal : zap_->on_readable()) {
    ++counters_.refused_peers;
    std::uint64_t suppressed = 0;
    if (zap_log_.admit(now_us, suppressed))
      log::warn("security", "refused a connection from {} to this node's hub: {}{}",
                refusal.address.empty() ? "an unknown address" : refusal.address, refusal.why,
                suffix(suppressed));
  }
}

void Node::on_publisher_readable() {
  const bool was_ready = link_.ready();
  link_.on_publisher_readable();
  if (link_.ready() == was_ready) return;
  if (link_.ready()) {
    hello_now(); // announce ourselves
    check_joined();
  } else {
    log::warn(component,
              "lost the connection to the hub; holding up to {} messages until it "
              "is back",
              MeshLink::max_held);
  }
}

void Node::check_joined() {
  // Joined once both directions work: the hub hears us and we hear the hub.
  if (joined_ || !link_.ready() || !(steering_.heard_hub() || is_hub())) return;
  joined_ = true;
  if (is_hub())
    log::info(component, "joined the mesh as its hub (term {})", steering_.term());
  else
    log::info(component, "joined the mesh through hub {} (term {}), {} connection(s) each way",
              peer_label(steering_.hub()), steering_.term(), link_.connections());
}

void Node::on_midi_input() {
  input_batch_.clear();
  midi_->take_input(input_batch_);
  const std::uint64_t now_wall = wall_us();
  for (const auto& message : input_batch_) {
    if (message.size() > wire::max_midi_size) {
      ++counters_.oversize_input;
      std::uint64_t suppressed = 0;
      if (oversize_log_.admit(steady_us(), suppressed))
        log::warn("midi",
                  "not sending a {}-byte message from the MIDI input: the mesh carries "
                  "at most {} bytes per message{}",
                  message.size(), wire::max_midi_size, suffix(suppressed));
      continue;
    }
    if (link_.publish(wire::MessageType::midi, message, now_wall) == MeshLink::Published::dropped) {
      ++counters_.publish_failed;
      continue;
    }
    ++counters_.midi_sent;
    counters_.midi_sent_bytes += message.size();
    if (rtp_) rtp_->play(link_.id(), message);
  }
}

void Node::release_notes(const std::string& sender, const std::string& why) {
  if (rtp_) rtp_->release(sender);
  play_releases(notes_.release(sender), fmt::format("for {} because {}", peer_label(sender), why));
}

void Node::release_all_notes(const std::string& why) {
  play_releases(notes_.release_all(), "because " + why);
}

void Node::play_releases(const std::vector<midi::Message>& offs, const std::string& reason) {
  if (offs.empty() || !midi_) return;
  for (const auto& message : offs)
    (void)midi_->send(message);
  counters_.released_notes += offs.size();
  log::info(component, "sent {} note-off/sustain-off message(s) {}", offs.size(), reason);
}

void Node::tick(std::uint64_t now_us) {
  // The hub's hello is what followers time out on (hub_timeout_us): it goes every heartbeat.
  if (!joined_ || is_hub() || now_us >= next_node_hello_us_) {
    send_hello();
    next_node_hello_us_ = now_us + config_.node_hello_us;
  }
  if (now_us >= next_member_hello_us_) {
    send_member_hellos();
    next_member_hello_us_ = now_us + config_.node_hello_us;
  }
  report(now_us);
  if (link_.shorten_new_connections() > 0 && !warned_retransmission_) {
    warned_retransmission_ = true;
    log::info(component, "this system cannot shorten TCP's retransmission timeout "
                         "(TCP_RTO_MIN_US, Linux 6.15+): a packet lost on the way to the hub "
                         "holds its connection 200 ms; the others carry the music meanwhile");
  }
  on_handshakes(now_us); // the same monitor reports them
  if (steering_.electing()) send_beacons(now_us);
  if (rtp_) rtp_->tick(now_us); // its throttled log lines, when it has no timer of its own
  next_hello_us_ = now_us + (joined_ ? config_.heartbeat_us : joining_hello_us);
  const bool backlog =
      link_.connected() && (link_.subscriber().get(zmq::sockopt::events) & ZMQ_POLLIN);
  const Peer* hub = peers_.find(steering_.hub());
  failover::Actions actions;
  const failover::Attention attention = steering_.tick(
      now_us, backlog, hub ? std::optional(hub->last_heard_us) : std::nullopt, actions);
  if (attention == failover::Attention::away) peers_.heard_all(now_us);
  if (attention != failover::Attention::listening) return;
  apply(actions, now_us); // a silent hub lost
  if (config_.mode == Mode::connect) check_link_alive(now_us);
  for (const Peer& peer : peers_.expire(now_us, config_.peer_timeout_us)) {
    log::warn(component, "peer {} went silent for {} ms; treating it as gone",
              peer.name.empty() ? peer.id : fmt::format("\"{}\" ({})", peer.name, peer.id),
              config_.peer_timeout_us / 1000);
    actions.clear();
    steering_.peer_expired(peer.id, now_us, actions);
    apply(actions, now_us);
  }
  if (steering_.electing()) steer(now_us);
}

void Node::check_link_alive(std::uint64_t now_us) {
  // The hub says hello every heartbeat. Silence means the hub is gone (ZeroMQ reconnects by
  // itself) or that ZeroMQ closed our connection for a protocol error, such as one frame over
  // ZMQ_MAXMSGSIZE, after which it never reconnects: rebuild the link ourselves. Until the hub
  // was first heard there is nothing to rebuild.
  if (steering_.hub().empty() || now_us < last_mesh_rx_us_ + config_.link_rebuild_us) return;
  ++counters_.reconnects;
  last_mesh_rx_us_ = now_us;
  std::uint64_t suppressed = 0;
  if (reconnect_log_.admit(now_us, suppressed))
    log::warn(component,
              "heard nothing from the hub at {} for {} ms: reconnecting to it (new sockets){}",
              config_.hub_address.host, config_.link_rebuild_us / 1000, suffix(suppressed));
  link_.connect(wire::publish_endpoint(config_.hub_address),
                wire::subscribe_endpoint(config_.hub_address));
}

void Node::flush_throttled_logs(std::uint64_t now_us) {
  std::uint64_t n = 0;
  if (handshake_log_.flush(now_us, n))
    log::error("security", "{} more failed handshake(s) with the hub", n);
  if (zap_log_.flush(now_us, n))
    log::warn("security", "refused {} more connection(s) to this node's hub", n);
  if (reconnect_log_.flush(now_us, n))
    log::warn(component, "reconnected to the hub {} more time(s); it is still silent", n);
  if (sequence_log_.flush(now_us, n))
    log::warn(component, "{} more sequence jump(s) or off-line number(s) from the mesh", n);
  if (malformed_log_.flush(now_us, n))
    log::warn(component, "dropped {} more malformed message(s) from the mesh", n);
  if (backend_log_.flush(now_us, n))
    log::warn("midi", "{} more message(s) could not be played on the MIDI output", n);
  if (oversize_log_.flush(now_us, n))
    log::warn("midi", "{} more message(s) from the MIDI input were too large for the mesh", n);
  if (hub_) hub_->tick(now_us);
}

void Node::report_bursts(std::uint64_t now_us) {
  for (const BurstReport& burst : peers_.finished_bursts(now_us))
    log::warn(component, "burst over: lost {} message(s) from {} in all; receiving normally again",
              burst.lost, peer_label(burst.id));
}

void Node::send_hello() {
  // Hellos are not worth holding for a hub that cannot hear us yet: the next one will do.
  if (!link_.ready()) return;
  if (link_.publish(wire::MessageType::hello, wire::encode_payload(hello()), wall_us()) ==
      MeshLink::Published::dropped)
    ++counters_.publish_failed;
}

void Node::shutdown() {
  log::info(component, "shutting down: saying goodbye and releasing held notes");
  members_leave("left with this node");
  (void)link_.publish(wire::MessageType::goodbye,
                      wire::encode_payload(wire::Goodbye{"shutting down"}), wall_us());
  if (hub_) {
    // Our own goodbye travels through our own proxy: forward it before the proxy closes.
    hub_->stop_holding();
    std::vector<zmq::pollitem_t> items;
    hub_->add_poll_items(items);
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(50));
    } catch (const zmq::error_t& e) {
      // A second Ctrl-C or SIGTERM: leaving is already under way, and the notes held must
      // still be released below.
      if (e.num() != EINTR) throw;
    }
    hub_->on_poll(items.data(), steady_us());
  }
  release_all_notes("this node is shutting down");
  if (midi_) flush_midi(steady_us());
  log_stats();
  link_.disconnect(goodbye_linger_ms);
  if (hub_) hub_->close(goodbye_linger_ms);
  midi_.reset();
}

void Node::log_stats() const {
  log::info(component, "stats: {}", stats());
  if (hub_) log::info("hub", "stats: {}", hub_->stats());
  if (rtp_) {
    const auto& c = rtp_->counters();
    log::info("rtp-midi",
              "stats: participants={} joined={} packets_in={} packets_out={} lost={} "
              "recovered={} malformed={} unknown_ssrc={} version_mismatch={} refused={} "
              "sysex_dropped={}",
              rtp_->members().size(), counters_.rtp_joined, c.packets_in, c.packets_out, c.lost,
              c.recovered, c.malformed, c.unknown_ssrc, c.version_mismatch, c.refused,
              c.sysex_dropped);
  }
}

std::string Node::peer_label(const std::string& id) const {
  auto& peers = peers_.peers();
  auto it = peers.find(id);
  if (it == peers.end() || it->second.name.empty()) return id;
  return fmt::format("\"{}\" ({})", it->second.name, id);
}

std::string Node::stats() const {
  std::uint64_t queue_overflows = 0;
  if (midi_) queue_overflows = midi_->input_stats().queue_overflows;
  return fmt::format(
      "midi_sent={} midi_sent_bytes={} midi_received={} midi_received_bytes={} "
      "lost={} malformed={} version_mismatch={} unknown_type={} oversize_input={} "
      "backend_rejected={} publish_failed={} input_overflows={} released_notes={} "
      "hub_changes={} term={} peers={} seq_resyncs={} out_of_line={} foreign_mesh={} "
      "reconnects={} refused_claims={} unanswered_claims={} failed_handshakes={} "
      "refused_peers={}",
      counters_.midi_sent, counters_.midi_sent_bytes, counters_.midi_received,
      counters_.midi_received_bytes, counters_.lost, counters_.malformed,
      counters_.version_mismatch, counters_.unknown_type, counters_.oversize_input,
      counters_.backend_rejected, counters_.publish_failed, queue_overflows,
      counters_.released_notes, counters_.hub_changes, steering_.term(), peers_.peers().size(),
      counters_.seq_resyncs, counters_.out_of_line, counters_.foreign_mesh, counters_.reconnects,
      counters_.refused_claims, steering_.unanswered_count(), counters_.failed_handshakes,
      counters_.refused_peers);
}

} // namespace midimesh::node
