#include "hub/hub.hpp"

#include "log/log.hpp"
#include "wire/envelope.hpp"
#include "wire/transport.hpp"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

namespace midimesh::hub {
namespace {

constexpr std::string_view component = "hub";
// Messages forwarded per wake-up before the loop looks at its other sockets again.
constexpr int forward_batch = 512;
constexpr int monitored_events =
    ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;
// A peer that has not completed the ZeroMQ handshake by then is not one of ours.
constexpr int handshake_timeout_ms = 2000;

std::string bind_tcp(zmq::socket_t& socket, const std::string& address, std::uint16_t port) {
  const bool v6 = address.find(':') != std::string::npos;
  const std::string endpoint = fmt::format("tcp://{}:{}", v6 ? "[" + address + "]" : address, port);
  try {
    socket.bind(endpoint);
  } catch (const zmq::error_t& e) {
    throw HubError(fmt::format(
        "cannot listen on {}: {}{}", endpoint, e.what(),
        e.num() == EADDRINUSE ? " (another hub or program uses this port; pick another with --port)"
                              : ""));
  }
  return socket.get(zmq::sockopt::last_endpoint);
}

wire::SocketMonitor monitor(zmq::context_t& context, zmq::socket_t& socket,
                            const std::string& endpoint) {
  wire::SocketMonitor monitor(context, socket, endpoint, monitored_events);
  if (!monitor)
    throw HubError(fmt::format("cannot monitor hub socket: {}", zmq_strerror(zmq_errno())));
  return monitor;
}

} // namespace

Hub::Hub(zmq::context_t& context, const HubConfig& config)
    : config_(config), xsub_(context, zmq::socket_type::xsub),
      xpub_(context, zmq::socket_type::xpub), monitors_(context, zmq::socket_type::pub),
      budget_(config.budget), queued_(config.queue) {
  for (zmq::socket_t* s : {&xsub_, &xpub_, &monitors_}) {
    wire::apply_common_options(*s);
    // libzmq takes bytes that do not start like a ZMTP 3 greeting for a ZeroMQ 1.0 peer and
    // keeps the connection (an HTTP request would even receive mesh traffic). With a ZAP domain
    // set, which server() does, it refuses every pre-3.0 peer. On an open mesh no ZAP handler
    // is needed: the NULL mechanism goes on without one.
    config_.security.server(*s);
    s->set(zmq::sockopt::handshake_ivl, handshake_timeout_ms);
    // Larger than any valid frame, so an oversized one reaches check_message and is counted;
    // only a frame twice that size costs its sender the connection.
    s->set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(2 * wire::max_frame_size));
  }
  xsub_.set(zmq::sockopt::rcvhwm, config_.receive_hwm);
  xpub_.set(zmq::sockopt::sndhwm, config_.send_hwm);
  xpub_.set(zmq::sockopt::tcp_maxrt, config_.stalled_receiver_timeout_ms);
  xpub_.set(zmq::sockopt::invert_matching, 1);
  bind_ports();
  // After binding: a hub that cannot bind leaves no monitor endpoint behind.
  xsub_monitor_ = monitor(context, xsub_, config_.inproc_prefix + "-monitor-in");
  xpub_monitor_ = monitor(context, xpub_, config_.inproc_prefix + "-monitor-out");
  monitors_monitor_ = monitor(context, monitors_, config_.inproc_prefix + "-monitor-monitor");
  xsub_.bind(local_publish());
  xpub_.bind(local_subscribe());
  // XSUB forwards nothing until it subscribes; the hub wants every topic from every node.
  const std::uint8_t subscribe_all = 1;
  xsub_.send(zmq::const_buffer(&subscribe_all, 1));
  log::info(component, "forwarding: nodes publish to {} and subscribe at {}; monitors at {}",
            publish_endpoint_, subscribe_endpoint_, monitor_endpoint_);
}

void Hub::bind_ports() {
  const auto bind_rest = [this](std::uint16_t base) {
    subscribe_endpoint_ =
        bind_tcp(xpub_, config_.bind_address, static_cast<std::uint16_t>(base + 1));
    monitor_endpoint_ =
        bind_tcp(monitors_, config_.bind_address, static_cast<std::uint16_t>(base + 2));
    port_ = base;
  };
  if (config_.port) {
    publish_endpoint_ = bind_tcp(xsub_, config_.bind_address, config_.port);
    bind_rest(config_.port);
    return;
  }
  // Any three free ports in a row: the protocol puts them at base, base + 1 and base + 2. The
  // system picks the base; unbinding is asynchronous in ZeroMQ, so a pair that fails is left
  // behind for another base rather than reused at once.
  for (int attempt = 0; attempt < 32; ++attempt) {
    publish_endpoint_ = bind_tcp(xsub_, config_.bind_address, 0);
    const auto base = std::stoi(publish_endpoint_.substr(publish_endpoint_.rfind(':') + 1));
    try {
      if (base <= 65533) {
        bind_rest(static_cast<std::uint16_t>(base));
        return;
      }
    } catch (const HubError&) {
      if (!subscribe_endpoint_.empty()) xpub_.unbind(subscribe_endpoint_);
      subscribe_endpoint_.clear();
    }
    xsub_.unbind(publish_endpoint_);
  }
  throw HubError("found no three free ports in a row to listen on");
}

void Hub::add_poll_items(std::vector<zmq::pollitem_t>& items) {
  // While holding, incoming messages wait in the XSUB queue: no wake-up for them.
  items.push_back({xsub_.handle(), 0, static_cast<short>(holding() ? 0 : ZMQ_POLLIN), 0});
  items.push_back({xpub_.handle(), 0, ZMQ_POLLIN, 0});
  items.push_back({xsub_monitor_.events().handle(), 0, ZMQ_POLLIN, 0});
  items.push_back({xpub_monitor_.events().handle(), 0, ZMQ_POLLIN, 0});
  items.push_back({monitors_monitor_.events().handle(), 0, ZMQ_POLLIN, 0});
}

void Hub::on_poll(const zmq::pollitem_t* items, std::uint64_t now_us) {
  now_us_ = now_us;
  if (items[1].revents & ZMQ_POLLIN) read_subscriptions(); // first: a hold may end with it
  const bool held_until_now = end_hold(now_us);
  if (!holding() && (held_until_now || (items[0].revents & ZMQ_POLLIN))) forward(now_us);
  if (items[2].revents & ZMQ_POLLIN)
    read_monitor(xsub_monitor_, xsub_handshakes_, "publish", now_us);
  if (items[3].revents & ZMQ_POLLIN)
    read_monitor(xpub_monitor_, xpub_handshakes_, "subscribe", now_us);
  if (items[4].revents & ZMQ_POLLIN)
    read_monitor(monitors_monitor_, monitors_handshakes_, "monitor", now_us);
}

void Hub::forward(std::uint64_t now_us) {
  zmq::message_t topic, body, extra;
  for (int i = 0; i < forward_batch; ++i) {
    if (!xsub_.recv(topic, zmq::recv_flags::dontwait)) return;
    std::size_t frames = 1;
    for (bool more = topic.more(); more; ++frames) {
      zmq::message_t& part = frames == 1 ? body : extra; // a third frame is only counted
      (void)xsub_.recv(part, zmq::recv_flags::none);     // parts of a message arrive together
      more = part.more();
    }
    const Verdict verdict = check_message(
        frames, {topic.data<std::uint8_t>(), topic.size()},
        frames >= 2 ? std::span<const std::uint8_t>(body.data<std::uint8_t>(), body.size())
                    : std::span<const std::uint8_t>());
    if (verdict != Verdict::forward && verdict != Verdict::to_monitors) {
      refuse(verdict, topic.to_string_view(), now_us);
      continue;
    }
    // A copy from the sender's other connection costs it no budget: only the first is charged
    // (and if the first was over budget, so is the copy).
    if (verdict == Verdict::forward &&
        !first_copy_.admit({body.data<std::uint8_t>(), body.size()}, now_us)) {
      ++counters_.duplicates; // its sender's other connection brought it first
      continue;
    }
    // Status reports too: they share the sender's budget, and a slow monitor's queue is held
    // to the same bytes as the receivers'.
    if (!within_budget(topic.to_string_view(), topic.size() + body.size(), now_us)) continue;
    if (!fits_queues(body.size(), now_us)) continue;
    if (verdict == Verdict::to_monitors) {
      ++counters_.status_reports;
      (void)monitors_.send(topic, zmq::send_flags::sndmore);
      (void)monitors_.send(queued_.track(std::move(body)), zmq::send_flags::none);
      continue;
    }
    counters_.forwarded_bytes += body.size();
    ++counters_.forwarded;
    // XPUB never blocks: a receiver whose pipe is full simply misses this message, and sees
    // the gap in the sender's sequence numbers.
    (void)xpub_.send(topic, zmq::send_flags::sndmore);
    (void)xpub_.send(queued_.track(std::move(body)), zmq::send_flags::none);
  }
}

bool Hub::within_budget(std::string_view sender, std::size_t bytes, std::uint64_t now_us) {
  const Admission admission = budget_.admit(sender, bytes, now_us);
  if (admission.admitted) return true;
  ++counters_.budget_dropped;
  counters_.budget_dropped_bytes += bytes;
  counters_.senders_over_budget = budget_.senders_over_budget();
  if (admission.report) {
    const BudgetLimits& limits = budget_.limits();
    log::warn(component,
              "sender {} exceeds its budget ({:.0f} msg/s, {:.0f} KB/s): dropping its excess, "
              "others unaffected ({} dropped)",
              wire_printable(sender) ? std::string(sender) : std::string("(unnamed)"),
              limits.messages_per_s, limits.bytes_per_s / 1024, admission.dropped);
  }
  return false;
}

bool Hub::fits_queues(std::size_t bytes, std::uint64_t now_us) {
  if (queued_.fits(bytes)) return true;
  ++counters_.queue_dropped;
  std::uint64_t suppressed = 0;
  if (queue_log_.admit(now_us, suppressed))
    log::warn(component,
              "receivers' queues hold {} KiB (a receiver reads too slowly or not at all): "
              "dropped a message of {} bytes{}; receivers that do not read are disconnected",
              queued_.held() / 1024, bytes,
              suppressed ? fmt::format(", {} more since the last report", suppressed) : "");
  return false;
}

void Hub::refuse(Verdict verdict, std::string_view topic, std::uint64_t now_us) {
  ++counters_.refused[static_cast<std::size_t>(verdict)];
  std::uint64_t suppressed = 0;
  if (!refusal_log_[verdict].admit(now_us, suppressed)) return;
  const std::string from =
      wire_printable(topic) ? std::string(topic) : fmt::format("{} bytes of binary", topic.size());
  log::warn(component, "dropped a message from {}: {}{}; the mesh goes on", from, describe(verdict),
            log::since_last_report(suppressed));
}

bool Hub::wire_printable(std::string_view text) {
  if (text.empty() || text.size() > 64) return false;
  for (unsigned char c : text)
    if (c < 0x20 || c > 0x7E) return false;
  return true;
}

void Hub::hold(std::size_t receivers, std::uint64_t until_us, std::uint64_t now_us) {
  if (counters_.receivers >= receivers || now_us >= until_us) return;
  hold_receivers_ = receivers;
  hold_until_us_ = until_us;
  log::info(component,
            "holding messages until {} receivers have attached ({} now), for {} ms at most",
            receivers, counters_.receivers, (until_us - now_us) / 1000);
}

bool Hub::end_hold(std::uint64_t now_us) {
  if (!holding() || (counters_.receivers < hold_receivers_ && now_us < hold_until_us_))
    return false;
  log::info(component, "forwarding again: {} of {} receivers attached{}", counters_.receivers,
            hold_receivers_, counters_.receivers < hold_receivers_ ? " (gave up waiting)" : "");
  hold_receivers_ = 0;
  return true;
}

void Hub::read_subscriptions() {
  zmq::message_t message;
  while (xpub_.recv(message, zmq::recv_flags::dontwait)) {
    if (message.size() < 1) continue;
    const bool subscribe = message.data<std::uint8_t>()[0] == 1;
    const std::string_view id(message.data<char>() + 1, message.size() - 1);
    if (subscribe)
      ++counters_.receivers;
    else if (counters_.receivers > 0)
      --counters_.receivers;
    ++counters_.subscription_changes;
    ++(subscribe ? attached_since_log_ : detached_since_log_);
    // Anyone can connect and disconnect in a loop: one line at once, then a sum per interval.
    std::uint64_t suppressed = 0;
    if (!subscription_log_.admit(now_us_, suppressed)) continue;
    log::info(component, "receiver {} {} ({} attached){}",
              wire_printable(id) ? std::string(id) : std::string("(unnamed)"),
              subscribe ? "attached" : "detached", counters_.receivers,
              suppressed ? fmt::format("; {} more change(s) since the last report", suppressed)
                         : "");
    attached_since_log_ = detached_since_log_ = 0;
  }
}

void Hub::read_monitor(wire::SocketMonitor& monitor, Handshakes& handshakes, const char* which,
                       std::uint64_t now_us) {
  zmq::message_t event, address;
  while (monitor.events().recv(event, zmq::recv_flags::dontwait)) {
    if (event.more()) (void)monitor.events().recv(address, zmq::recv_flags::none);
    if (event.size() < 6) continue;
    std::uint16_t id = 0;
    std::uint32_t value = 0; // the connection's fd for ACCEPTED and DISCONNECTED
    std::memcpy(&id, event.data(), sizeof id);
    std::memcpy(&value, event.data<std::uint8_t>() + 2, sizeof value);
    switch (id) {
    case ZMQ_EVENT_ACCEPTED:
      handshakes.unproven.push_back(value);
      // Everything the hub forwards leaves through these: a lost segment is resent in a few
      // ms instead of 200 (where the kernel offers it; see wire::shorten_retransmission).
      (void)wire::shorten_retransmission(static_cast<int>(value));
      break;
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
      // libzmq does not say which connection succeeded (the event's value is 0). A handshake
      // takes a millisecond, so it is the newest unproven one; an older one is stalling.
      if (!handshakes.unproven.empty()) handshakes.unproven.pop_back();
      break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
      ++handshakes.failures_reported;
      reject_connection(which, address.to_string(), now_us);
      break;
    case ZMQ_EVENT_DISCONNECTED: {
      // A connection that ends before its handshake completed was garbage. Bytes that look
      // like ZeroMQ 1.0 (refused because of the ZAP domain) only show up here.
      auto it = std::find(handshakes.unproven.begin(), handshakes.unproven.end(), value);
      if (it == handshakes.unproven.end()) break;
      handshakes.unproven.erase(it);
      if (handshakes.failures_reported > 0)
        --handshakes.failures_reported; // counted when its failure was reported
      else
        reject_connection(which, address.to_string(), now_us);
      break;
    }
    default:
      break;
    }
  }
}

void Hub::reject_connection(const char* which, const std::string& endpoint, std::uint64_t now_us) {
  ++counters_.rejected_connections;
  std::uint64_t suppressed = 0;
  if (garbage_log_.admit(now_us, suppressed))
    log::warn(component,
              "closed a connection to the {} port {} that {} (handshake failed){}; other "
              "nodes are not affected",
              which, endpoint,
              config_.security.secured()
                  ? "does not have this mesh's passphrase (or does not speak midimesh)"
                  : "does not speak ZeroMQ/midimesh, or expects a secured mesh",
              suppressed ? fmt::format(", {} more since the last report", suppressed) : "");
}

void Hub::tick(std::uint64_t now_us) {
  std::uint64_t suppressed = 0;
  if (subscription_log_.flush(now_us, suppressed)) {
    log::info(component,
              "receivers: {} attached and {} detached since the last report ({} "
              "attached now)",
              attached_since_log_, detached_since_log_, counters_.receivers);
    attached_since_log_ = detached_since_log_ = 0;
  }
  for (auto& [verdict, throttle] : refusal_log_)
    if (throttle.flush(now_us, suppressed))
      log::warn(component, "dropped {} more message(s): {}", suppressed, describe(verdict));
  for (const DropReport& report : budget_.flush(now_us))
    log::warn(component, "sender {} exceeds its budget: dropped {} more message(s)",
              wire_printable(report.sender) ? report.sender : std::string("(unnamed)"),
              report.dropped);
  if (queue_log_.flush(now_us, suppressed))
    log::warn(component, "dropped {} more message(s): the receivers' queues were full", suppressed);
  if (garbage_log_.flush(now_us, suppressed))
    log::warn(component, "closed {} more connection(s) that did not speak ZeroMQ/midimesh",
              suppressed);
}

void Hub::close(int linger_ms) {
  xpub_.set(zmq::sockopt::linger, linger_ms);
  for (wire::SocketMonitor* m : {&xsub_monitor_, &xpub_monitor_, &monitors_monitor_})
    m->stop();
  for (zmq::socket_t* s : {&xsub_, &xpub_, &monitors_})
    s->close();
}

std::string Hub::stats() const {
  std::uint64_t refused = 0;
  for (auto n : counters_.refused)
    refused += n;
  return fmt::format("forwarded={} forwarded_bytes={} refused={} malformed={} "
                     "version_mismatch={} too_large={} spoofed={} rejected_connections={} "
                     "receivers={} subscription_changes={} duplicates={} budget_dropped={} "
                     "budget_dropped_bytes={} senders_over_budget={} queue_dropped={} "
                     "queued_bytes={} queued_bytes_peak={}",
                     counters_.forwarded, counters_.forwarded_bytes, refused,
                     counters_.refused[static_cast<std::size_t>(Verdict::malformed)] +
                         counters_.refused[static_cast<std::size_t>(Verdict::wrong_frame_count)],
                     counters_.refused[static_cast<std::size_t>(Verdict::version_mismatch)],
                     counters_.refused[static_cast<std::size_t>(Verdict::too_large)],
                     counters_.refused[static_cast<std::size_t>(Verdict::spoofed_sender)],
                     counters_.rejected_connections, counters_.receivers,
                     counters_.subscription_changes, counters_.duplicates, counters_.budget_dropped,
                     counters_.budget_dropped_bytes, counters_.senders_over_budget,
                     counters_.queue_dropped, queued_.held(), queued_.peak());
}

} // namespace midimesh::hub
