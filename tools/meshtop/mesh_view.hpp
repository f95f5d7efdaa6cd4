#pragma once
// The table meshtop shows, as plain logic: fed the status reports the hub passes to its monitor
// port, each with the time it arrived, it keeps one row per node, computes rates from successive
// reports, marks rows stale and drops them, tells who the hub is, and records what happened as
// events. No sockets, no clock: the caller passes the time (a monotonic clock, microseconds).

#include "wire/envelope.hpp"

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace midimesh::meshtop {

// Nodes report about once a second: a row with nothing new for this long is shown stale...
inline constexpr std::uint64_t stale_after_us = 2'500'000;
// ...and is removed after this long (a crashed node never says goodbye to a monitor).
inline constexpr std::uint64_t gone_after_us = 10'000'000;
inline constexpr std::size_t max_events = 100;

// Per second, from the difference between a node's last two reports, timed by the node's own
// uptime (its clock, not our arrival times, so a delayed report does not make a spike).
struct Rates {
  double midi_in = 0, midi_out = 0;   // messages
  double bytes_in = 0, bytes_out = 0; // MIDI bytes
};

struct NodeRow {
  std::string id;    // the sender of the reports, 16 hex digits
  wire::Status last; // the newest report
  Rates rates;       // zero until a second report arrived
  std::uint64_t first_seen_us = 0, last_report_us = 0;
  bool stale = false;
  // An RTP-MIDI participant (a Mac, an iPad): the name of the node it is connected through.
  std::string via_name;
  bool is_hub() const { return last.role == "hub"; }
  bool is_rtp() const { return last.kind == "rtp"; }
};

enum class Column {
  name,
  id,
  host,
  role,
  term,
  uptime,
  in_rate,
  out_rate,
  in_total,
  out_total,
  bytes_rate,
  lost,
  malformed,
  rtt,
  offset,
};
inline constexpr int column_count = static_cast<int>(Column::offset) + 1;

struct Event {
  enum class Kind { joined, stale, back, gone, hub, lost, malformed };
  Kind kind;
  std::uint64_t time_us = 0;
  std::uint64_t seq = 0;   // 1, 2, 3... in the order they happened
  std::string id, name;    // the node concerned (for `hub`: the new hub)
  std::uint64_t value = 0; // lost/malformed: how many more; hub: the term
  std::string text;        // one line for a person
};
std::string_view describe(Event::Kind kind) noexcept;

struct Summary {
  std::string mesh;
  std::string hub_id, hub_name; // empty: no hub heard of yet
  std::uint64_t term = 0;
  std::size_t nodes = 0, stale = 0;
  double midi_per_s = 0;                 // MIDI entering the mesh: the sum of every node's out rate
  double bytes_per_s = 0;                // the same in bytes
  std::uint64_t lost = 0, malformed = 0; // sums over the nodes shown
  std::uint64_t hub_dropped = 0;         // by the hubs shown: over senders' budgets, queues full
};

class MeshView {
public:
  // `mesh`: the name shown until a report says otherwise (--connect does not know it).
  explicit MeshView(std::string mesh);

  // A status report from node `sender` arrived at now_us.
  void on_status(std::string_view sender, const wire::Status& status, std::uint64_t now_us);
  // Ages the rows: stale after stale_after_us, removed after gone_after_us. Call it before
  // looking at the rows, at least twice a second.
  void tick(std::uint64_t now_us);

  // The rows, sorted by the current column (ties by name, then id).
  std::vector<const NodeRow*> rows() const;
  const NodeRow* find(std::string_view id) const;
  Summary summary() const;

  Column sort_column() const noexcept { return sort_; }
  bool sort_descending() const noexcept { return descending_; }
  void sort_by(Column column, bool descending);
  void next_sort_column(); // key s: the next column, in its natural direction
  void reverse_sort();     // key S

  // The newest events, oldest first (at most max_events).
  const std::deque<Event>& events() const noexcept { return events_; }
  // Events with seq > after, oldest first.
  std::vector<Event> events_after(std::uint64_t after) const;
  std::uint64_t last_event_seq() const noexcept { return event_seq_; }

private:
  void add_event(Event::Kind kind, const NodeRow& row, std::uint64_t value, std::string text,
                 std::uint64_t now_us);
  void update_hub(std::uint64_t now_us);
  std::string via_name(const wire::Status& status) const;

  std::string mesh_;
  std::vector<NodeRow> rows_;
  std::deque<Event> events_;
  std::uint64_t event_seq_ = 0;
  std::string hub_id_;
  std::uint64_t term_ = 0;
  Column sort_ = Column::name;
  bool descending_ = false;
};

} // namespace midimesh::meshtop
