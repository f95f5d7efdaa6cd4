#include "mesh_view.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <tuple>

namespace midimesh::meshtop {
namespace {

bool numeric(Column c) {
  return c != Column::name && c != Column::id && c != Column::host && c != Column::role;
}

// What a column sorts by. Text columns compare as text; the rest as numbers (an unmeasured
// round trip sorts below every measured one).
struct Key {
  std::string text;
  double number = 0;
};

Key key(const NodeRow& r, Column c) {
  const wire::Status& s = r.last;
  switch (c) {
  case Column::name:
    return {s.name};
  case Column::id:
    return {r.id};
  case Column::host:
    return {s.host};
  case Column::role:
    return {r.is_hub() ? "0" : "1"}; // the hub first
  case Column::term:
    return {{}, static_cast<double>(s.term)};
  case Column::uptime:
    return {{}, static_cast<double>(s.uptime_ms)};
  case Column::in_rate:
    return {{}, r.rates.midi_in};
  case Column::out_rate:
    return {{}, r.rates.midi_out};
  case Column::in_total:
    return {{}, static_cast<double>(s.midi_in)};
  case Column::out_total:
    return {{}, static_cast<double>(s.midi_out)};
  case Column::bytes_rate:
    return {{}, r.rates.bytes_in + r.rates.bytes_out};
  case Column::lost:
    return {{}, static_cast<double>(s.lost)};
  case Column::malformed:
    return {{}, static_cast<double>(s.malformed)};
  case Column::rtt:
    return {{}, static_cast<double>(s.rtt_us)};
  case Column::offset:
    return {{}, static_cast<double>(s.offset_us)};
  }
  return {};
}

double per_second(std::uint64_t now, std::uint64_t before, double seconds) {
  return now >= before ? static_cast<double>(now - before) / seconds : 0.0;
}

} // namespace

std::string_view describe(Event::Kind kind) noexcept {
  switch (kind) {
  case Event::Kind::joined:
    return "joined";
  case Event::Kind::stale:
    return "stale";
  case Event::Kind::back:
    return "back";
  case Event::Kind::gone:
    return "gone";
  case Event::Kind::hub:
    return "hub";
  case Event::Kind::lost:
    return "lost";
  case Event::Kind::malformed:
    return "malformed";
  }
  return "unknown";
}

MeshView::MeshView(std::string mesh) : mesh_(std::move(mesh)) {}

std::string MeshView::via_name(const wire::Status& status) const {
  if (status.via.empty()) return {};
  const NodeRow* via = find(status.via);
  return via ? via->last.name : status.via.substr(0, 8);
}

void MeshView::on_status(std::string_view sender, const wire::Status& status,
                         std::uint64_t now_us) {
  if (!status.mesh.empty()) mesh_ = status.mesh;
  auto it =
      std::find_if(rows_.begin(), rows_.end(), [&](const NodeRow& r) { return r.id == sender; });
  if (it == rows_.end()) {
    NodeRow row;
    row.id = std::string(sender);
    row.last = status;
    row.first_seen_us = row.last_report_us = now_us;
    row.via_name = via_name(status);
    rows_.push_back(row);
    add_event(Event::Kind::joined, row, 0,
              row.is_rtp() ? fmt::format("{} joined by RTP-MIDI through {} ({})", row.last.name,
                                         row.via_name, row.id.substr(0, 8))
                           : fmt::format("{} joined ({}{})", row.last.name, row.id.substr(0, 8),
                                         status.host.empty() ? "" : " on " + status.host),
              now_us);
    update_hub(now_us);
    return;
  }
  NodeRow& row = *it;
  const wire::Status before = row.last;
  if (status.uptime_ms > before.uptime_ms) {
    const double seconds = static_cast<double>(status.uptime_ms - before.uptime_ms) / 1000.0;
    row.rates.midi_in = per_second(status.midi_in, before.midi_in, seconds);
    row.rates.midi_out = per_second(status.midi_out, before.midi_out, seconds);
    row.rates.bytes_in = per_second(status.midi_in_bytes, before.midi_in_bytes, seconds);
    row.rates.bytes_out = per_second(status.midi_out_bytes, before.midi_out_bytes, seconds);
  } else if (status.uptime_ms < before.uptime_ms) {
    row.rates = {}; // cannot happen with one id (a restart brings a new one); start over
  }                 // equal: a repeated report, the rates stand
  row.last = status;
  row.last_report_us = now_us;
  row.via_name = via_name(status);
  if (row.stale) {
    row.stale = false;
    add_event(Event::Kind::back, row, 0, fmt::format("{} reports again", status.name), now_us);
  }
  if (status.lost > before.lost)
    add_event(Event::Kind::lost, row, status.lost - before.lost,
              fmt::format("{} lost {} message(s) ({} in all)", status.name,
                          status.lost - before.lost, status.lost),
              now_us);
  if (status.malformed > before.malformed)
    add_event(Event::Kind::malformed, row, status.malformed - before.malformed,
              fmt::format("{} dropped {} malformed message(s) ({} in all)", status.name,
                          status.malformed - before.malformed, status.malformed),
              now_us);
  update_hub(now_us);
}

void MeshView::tick(std::uint64_t now_us) {
  for (auto it = rows_.begin(); it != rows_.end();) {
    const std::uint64_t silent = now_us > it->last_report_us ? now_us - it->last_report_us : 0;
    if (silent > gone_after_us) {
      const NodeRow row = *it;
      it = rows_.erase(it);
      add_event(
          Event::Kind::gone, row, 0,
          fmt::format("{} gone (no report for {} s)", row.last.name, gone_after_us / 1'000'000),
          now_us);
      continue;
    }
    if (silent > stale_after_us && !it->stale) {
      it->stale = true;
      it->rates = {};
      add_event(Event::Kind::stale, *it, 0,
                fmt::format("{} stale (no report for {:.1f} s)", it->last.name,
                            static_cast<double>(stale_after_us) / 1e6),
                now_us);
    }
    ++it;
  }
  update_hub(now_us);
}

void MeshView::update_hub(std::uint64_t now_us) {
  // The hub with the highest term that anyone reports: its own report (role hub) or its
  // followers' (they name the hub they follow and its term). A new hub's term is higher than
  // the old one's, so a failover shows as soon as one report of the new term arrives.
  std::string best;
  std::uint64_t best_term = 0;
  bool best_self = false;
  for (const NodeRow& r : rows_) {
    const bool self = r.is_hub();
    const std::string id = self ? r.id : r.last.hub;
    if (id.empty()) continue;
    const std::uint64_t term = r.last.term;
    if (best.empty() || term > best_term || (term == best_term && self && !best_self)) {
      best = id;
      best_term = term;
      best_self = self;
    }
  }
  if (best.empty() || (best == hub_id_ && best_term == term_)) return;
  if (best == hub_id_) {
    // The same hub with another term: usually a follower's report came before the hub's own
    // (a --connect follower does not know the term). Not worth an event.
    term_ = best_term;
    return;
  }
  const bool first = hub_id_.empty();
  hub_id_ = best;
  term_ = best_term;
  NodeRow hub;
  hub.id = best;
  if (const NodeRow* r = find(best)) hub = *r;
  const std::string name = hub.last.name.empty() ? best.substr(0, 8) : hub.last.name;
  hub.last.name = name;
  std::string text;
  if (first)
    text = fmt::format("hub is {} (term {})", name, best_term);
  else
    text = fmt::format("failover: new hub {} (term {})", name, best_term);
  add_event(Event::Kind::hub, hub, best_term, text, now_us);
}

std::vector<const NodeRow*> MeshView::rows() const {
  std::vector<const NodeRow*> out;
  for (const NodeRow& r : rows_)
    out.push_back(&r);
  const Column c = sort_;
  const bool desc = descending_;
  std::stable_sort(out.begin(), out.end(), [c, desc](const NodeRow* a, const NodeRow* b) {
    const Key ka = key(*a, c), kb = key(*b, c);
    const auto x = std::tie(ka.text, ka.number), y = std::tie(kb.text, kb.number);
    if (x != y) return desc ? y < x : x < y;
    return std::tie(a->last.name, a->id) < std::tie(b->last.name, b->id);
  });
  return out;
}

const NodeRow* MeshView::find(std::string_view id) const {
  for (const NodeRow& r : rows_)
    if (r.id == id) return &r;
  return nullptr;
}

Summary MeshView::summary() const {
  Summary s;
  s.mesh = mesh_;
  s.hub_id = hub_id_;
  s.term = term_;
  if (const NodeRow* hub = find(hub_id_))
    s.hub_name = hub->last.name;
  else if (!hub_id_.empty())
    s.hub_name = hub_id_.substr(0, 8);
  s.nodes = rows_.size();
  for (const NodeRow& r : rows_) {
    if (r.stale) ++s.stale;
    s.midi_per_s += r.rates.midi_out;
    s.bytes_per_s += r.rates.bytes_out;
    s.lost += r.last.lost;
    s.malformed += r.last.malformed;
    s.hub_dropped += r.last.hub_dropped;
  }
  return s;
}

void MeshView::sort_by(Column column, bool descending) {
  sort_ = column;
  descending_ = descending;
}

void MeshView::next_sort_column() {
  const auto next = static_cast<Column>((static_cast<int>(sort_) + 1) % column_count);
  sort_by(next, numeric(next)); // numbers: the largest first, like top
}

void MeshView::reverse_sort() {
  descending_ = !descending_;
}

std::vector<Event> MeshView::events_after(std::uint64_t after) const {
  std::vector<Event> out;
  for (const Event& e : events_)
    if (e.seq > after) out.push_back(e);
  return out;
}

void MeshView::add_event(Event::Kind kind, const NodeRow& row, std::uint64_t value,
                         std::string text, std::uint64_t now_us) {
  Event e{kind, now_us, ++event_seq_, row.id, row.last.name, value, std::move(text)};
  events_.push_back(std::move(e));
  while (events_.size() > max_events)
    events_.pop_front();
}

} // namespace midimesh::meshtop
