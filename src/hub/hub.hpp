#pragma once
// The hub: a ZeroMQ XSUB/XPUB proxy that forwards every well-formed message to every node
// except its sender. Nodes' SUB sockets set ZMQ_INVERT_MATCHING and subscribe to their own id,
// and so does the XPUB: a message whose topic is a node's id reaches everyone but that node,
// filtered here at the hub without one copy per destination.
// A slow or stalled node only fills its own XPUB pipe (bounded by SNDHWM); the rest go on.
// Each sender is held to a budget (SenderBudget) and what waits in the receivers' queues to a
// number of bytes (QueuedBytes): a flooding sender or a receiver that stops reading costs the
// others nothing and the hub bounded memory (PROTOCOL.md, "Limits").

#include "hub/first_copy.hpp"
#include "hub/frame_check.hpp"
#include "hub/queued_bytes.hpp"
#include "hub/sender_budget.hpp"
#include "log/throttle.hpp"
#include "security/socket_security.hpp"
#include "wire/socket_monitor.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace midimesh::hub {

// Thrown when the hub cannot start: the port is taken, the address is not ours.
struct HubError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct HubConfig {
  std::string bind_address = "*"; // all interfaces, IPv4 and IPv6
  // Nodes publish to port, subscribe at port + 1; monitors (meshtop) subscribe at port + 2.
  // 0: any free three in a row.
  std::uint16_t port = 8141;
  std::string inproc_prefix = "inproc://midimesh-hub";
  // Per receiving node, in messages; what all queues hold in bytes is bounded by `queue`.
  int send_hwm = 50'000;
  // Per connected sender: what waits for the forwarding loop. Each message is at most
  // ZMQ_MAXMSGSIZE (1 MiB); the loop drains faster than a connection fills it, even when it
  // drops everything a flood sends.
  int receive_hwm = 1'000;
  // A receiver whose TCP window has stayed shut this long is disconnected (TCP_USER_TIMEOUT,
  // which Linux applies to zero-window probes): it frees what it held, and reconnects if alive.
  int stalled_receiver_timeout_ms = 5'000;
  BudgetLimits budget;
  QueueLimits queue;
  // Open or secured (CURVE on all three ports). Secured needs a ZapHandler in the context.
  security::SocketSecurity security;
};

struct HubCounters {
  std::uint64_t forwarded = 0;
  std::uint64_t forwarded_bytes = 0;
  std::array<std::uint64_t, 7> refused{}; // by Verdict
  std::uint64_t status_reports = 0;       // telemetry passed to the monitor port
  std::uint64_t rejected_connections = 0; // failed the ZMTP handshake: garbage on our ports
  std::uint64_t receivers = 0;            // nodes subscribed right now
  std::uint64_t subscription_changes = 0; // receivers attached or detached, in total
  std::uint64_t duplicates = 0;     // copies of messages forwarded already (several connections)
  std::uint64_t budget_dropped = 0; // messages over their sender's budget
  std::uint64_t budget_dropped_bytes = 0;
  std::uint64_t senders_over_budget = 0; // senders that have had anything dropped
  std::uint64_t queue_dropped = 0;       // not forwarded: the receivers' queues were full (bytes)
};

class Hub {
public:
  Hub(zmq::context_t& context, const HubConfig& config);
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Where this process's own node connects: publish to local_publish(), subscribe at
  // local_subscribe().
  std::string local_publish() const { return config_.inproc_prefix + "-in"; }
  std::string local_subscribe() const { return config_.inproc_prefix + "-out"; }
  // Where remote nodes connect, as bound (with the real port).
  const std::string& publish_endpoint() const { return publish_endpoint_; }
  const std::string& subscribe_endpoint() const { return subscribe_endpoint_; }
  const std::string& monitor_endpoint() const { return monitor_endpoint_; }
  // The base port as bound (the real one when the config asked for any free port).
  std::uint16_t port() const noexcept { return port_; }

  static constexpr std::size_t poll_item_count = 5;
  void add_poll_items(std::vector<zmq::pollitem_t>& items);
  // `items` points at the first of the poll_item_count items add_poll_items added.
  void on_poll(const zmq::pollitem_t* items, std::uint64_t now_us);

  // Forwards nothing until `receivers` nodes have attached, or until `until_us`: a hub taking
  // over must not forward what the nodes resend to it before the others are listening (its
  // XPUB keeps nothing for a node not attached yet). Meanwhile messages wait in its queue.
  void hold(std::size_t receivers, std::uint64_t until_us, std::uint64_t now_us);
  bool holding() const noexcept { return hold_receivers_ != 0; }
  void stop_holding() noexcept { hold_receivers_ = 0; }
  // When on_poll() must run to end a hold that times out; 0 when not holding.
  std::uint64_t next_wakeup_us() const noexcept { return holding() ? hold_until_us_ : 0; }

  // Closes the sockets, giving messages already forwarded up to linger_ms to leave.
  void close(int linger_ms);

  // Sums up throttled log lines whose interval has passed.
  void tick(std::uint64_t now_us);

  const HubCounters& counters() const noexcept { return counters_; }
  std::string stats() const;

private:
  void bind_ports();
  void forward(std::uint64_t now_us);
  void read_subscriptions();
  bool end_hold(std::uint64_t now_us); // true when a hold has just ended
  // Connections of one port whose ZeroMQ handshake has not completed, to tell garbage apart.
  struct Handshakes {
    std::vector<std::uint32_t> unproven; // fds, in the order they were accepted
    std::uint64_t failures_reported = 0; // failed handshakes whose disconnect is still to come
  };
  void read_monitor(wire::SocketMonitor& monitor, Handshakes& handshakes, const char* which,
                    std::uint64_t now_us);
  void refuse(Verdict verdict, std::string_view topic, std::uint64_t now_us);
  // True when the message may go on; otherwise counts and logs why not.
  bool within_budget(std::string_view sender, std::size_t bytes, std::uint64_t now_us);
  bool fits_queues(std::size_t bytes, std::uint64_t now_us);
  void reject_connection(const char* which, const std::string& endpoint, std::uint64_t now_us);
  static bool wire_printable(std::string_view text);

  HubConfig config_;
  zmq::socket_t xsub_;
  zmq::socket_t xpub_;
  zmq::socket_t monitors_; // PUB: status reports only, so watching the mesh costs MIDI nothing
  // After the sockets they watch: destroyed, so stopped, before them. Garbage on the monitor
  // port is counted like on the others.
  wire::SocketMonitor xsub_monitor_;
  wire::SocketMonitor xpub_monitor_;
  wire::SocketMonitor monitors_monitor_;
  std::string publish_endpoint_;
  std::string subscribe_endpoint_;
  std::string monitor_endpoint_;
  std::uint16_t port_ = 0;
  HubCounters counters_;
  FirstCopy first_copy_;
  std::map<Verdict, log::Throttle> refusal_log_;
  log::Throttle garbage_log_;
  SenderBudget budget_;
  QueuedBytes queued_;
  log::Throttle queue_log_;
  Handshakes xsub_handshakes_, xpub_handshakes_, monitors_handshakes_;
  log::Throttle subscription_log_;
  std::uint64_t attached_since_log_ = 0, detached_since_log_ = 0;
  std::uint64_t now_us_ = 0;       // of the last on_poll()
  std::size_t hold_receivers_ = 0; // 0: not holding
  std::uint64_t hold_until_us_ = 0;
};

} // namespace midimesh::hub
