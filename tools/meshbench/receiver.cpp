#include "receiver.hpp"

#include "client_id.hpp"
#include "wire/envelope.hpp"
#include "wire/transport.hpp"

namespace meshbench {
namespace {
constexpr int node_queue_depth = 100'000; // as a midimesh node (src/node/mesh_link.cpp)
// Messages taken per wake-up before the loop looks at the stop flag and the clock again.
constexpr int drain_batch = 4096;
constexpr auto idle_wait = std::chrono::milliseconds(20);
} // namespace

std::uint64_t wall_us() noexcept {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

std::uint64_t steady_us() noexcept {
  using namespace std::chrono;
  return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

Receiver::Receiver(zmq::context_t& context, const std::string& id, std::uint32_t run_nonce,
                   std::size_t sender_count, std::size_t latency_capacity)
    : socket_(context, zmq::socket_type::sub), nonce_(run_nonce), sender_count_(sender_count),
      from_(std::make_unique<FromSender[]>(sender_count)), latency_capacity_(latency_capacity) {
  midimesh::wire::apply_common_options(socket_);
  socket_.set(zmq::sockopt::rcvhwm, node_queue_depth);
  // Everything except our own id's messages, exactly as a node subscribes (PROTOCOL.md 1).
  socket_.set(zmq::sockopt::invert_matching, 1);
  socket_.set(zmq::sockopt::subscribe, id);
  latencies_us_.reserve(latency_capacity); // no allocation while measuring
}

void Receiver::connect(const std::string& endpoint) {
  socket_.connect(endpoint);
}

bool Receiver::heard(std::size_t sender) const noexcept {
  return from_[sender].heard.load(std::memory_order_acquire);
}

std::uint64_t Receiver::measured_from(std::size_t sender) const noexcept {
  return from_[sender].measured.load(std::memory_order_relaxed);
}

std::uint64_t Receiver::measured_total() const noexcept {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < sender_count_; ++i)
    total += measured_from(i);
  return total;
}

void Receiver::run(const std::atomic<bool>& stop, std::chrono::steady_clock::time_point deadline) {
  zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
  while (!stop.load(std::memory_order_relaxed) && std::chrono::steady_clock::now() < deadline) {
    if (drain(drain_batch) > 0) continue;
    zmq::poll(&item, 1, idle_wait);
  }
}

int Receiver::drain(int limit) {
  zmq::message_t topic, body;
  measured_in_batch_ = false;
  int count = 0;
  for (; count < limit; ++count) {
    if (!socket_.recv(topic, zmq::recv_flags::dontwait)) break;
    if (!topic.more()) {
      ++foreign_;
      continue;
    }
    (void)socket_.recv(body, zmq::recv_flags::none); // parts of a message arrive together
    while (body.more())
      (void)socket_.recv(body, zmq::recv_flags::none);
    on_message(topic.to_string_view(), body);
  }
  // One clock read per batch: throughput needs the time of the last arrival, not of each.
  if (measured_in_batch_) last_measured_us_ = steady_us();
  return count;
}

void Receiver::on_message(std::string_view topic, const zmq::message_t& body) {
  const auto sender = client_index(nonce_, topic);
  const midimesh::wire::Parsed parsed =
      midimesh::wire::parse({body.data<std::uint8_t>(), body.size()});
  if (!sender || *sender >= sender_count_ || !parsed || parsed.view->payload.empty() ||
      parsed.view->type != static_cast<std::uint8_t>(midimesh::wire::MessageType::midi)) {
    ++foreign_; // the hub's own hellos, for instance
    return;
  }
  FromSender& from = from_[*sender];
  const midimesh::wire::EnvelopeView& view = *parsed.view;
  // Sequence rule of PROTOCOL.md 2: the first message sets the expectation; a jump is a loss.
  const bool measured = view.payload[0] == measured_status;
  // Counted before the sequence rule: a flood may resend one frame over and over.
  if (!measured && view.payload[0] != probe_status) ++from.others;
  if (from.expecting && view.seq > from.next_seq && measured) gaps_ += view.seq - from.next_seq;
  if (from.expecting && view.seq < from.next_seq) return; // stale or duplicate
  from.expecting = true;
  from.next_seq = view.seq + 1;
  if (!measured) {
    from.heard.store(true, std::memory_order_release);
    return;
  }
  // One writer (this thread): a plain store, no locked read-modify-write per message.
  from.measured.store(from.measured.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  measured_in_batch_ = true;
  if (latencies_us_.size() < latency_capacity_)
    latencies_us_.push_back(static_cast<std::int64_t>(wall_us() - view.time_us));
}

} // namespace meshbench
