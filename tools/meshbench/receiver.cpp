#include "receiver.hpp"

#include "client_id.hpp"
#include "node/mesh_link.hpp"
#include "wire/envelope.hpp"

namespace meshbench {
namespace {
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
    : socket_(midimesh::node::mesh_subscriber(context, id, {})), nonce_(run_nonce),
      sender_count_(sender_count), from_(std::make_unique<FromSender[]>(sender_count)),
      latency_capacity_(latency_capacity) {
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
  const bool measured = view.payload[0] == measured_status;
  // Counted before the sequence rule: a flood may resend one frame over and over.
  if (!measured && view.payload[0] != probe_status) ++from.others;
  // The sequence rule a node's peer table applies (PROTOCOL.md 2): the first message sets the
  // line; a jump ahead is a loss once the sender's next message confirms it.
  if (!from.line) {
    from.line = midimesh::wire::first_heard(view.seq);
  } else {
    const midimesh::wire::LineStep step = midimesh::wire::advance(*from.line, view.seq, rule_);
    if (step.out_of_line) ++out_of_line_;
    if (step.moved) on_moved(from, step);
    if (step.repeat) {
      ++repeats_;
      return;
    }
  }
  if (from.line->pending == view.seq) from.pending_measured = measured;
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

void Receiver::on_moved(const FromSender& from, const midimesh::wire::LineStep& step) noexcept {
  const std::uint64_t gap = step.to > step.from ? step.to - step.from - 1 : 0;
  if (step.to < step.from || gap > rule_.max_gap) {
    ++restarts_; // a numbering restarted, as the peer table counts a resync: no loss
    return;
  }
  // Probes lost before the measurement (ZeroMQ's slow joiner) are not the hub's losses: only a
  // jump onto a measured message counts.
  if (from.pending_measured) gaps_ += gap;
}

} // namespace meshbench
