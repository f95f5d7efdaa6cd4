#include "table.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace midimesh::meshtop {
namespace {

constexpr int name_min = 10, name_max = 20;

std::string fit(std::string text, int width, bool left) {
  const auto w = static_cast<std::size_t>(width);
  if (text.size() > w) text = w > 1 ? text.substr(0, w - 1) + "~" : text.substr(0, w);
  const std::string pad(w - text.size(), ' ');
  return left ? text + pad : pad + text;
}

std::string ms(std::int64_t us, int decimals) {
  std::string text = fmt::format("{:.{}f}", static_cast<double>(us) / 1000.0, decimals);
  if (text.starts_with('-') && text.find_first_not_of("-0.") == std::string::npos)
    text.erase(0, 1); // "-0.0" says nothing more than "0.0"
  return text;
}

} // namespace

const std::vector<ColumnSpec>& all_columns() {
  static const std::vector<ColumnSpec> columns = {
      {Column::name, "NAME", name_min, true, 0, "node name ('*' before it: the hub, '!': stale)"},
      {Column::id, "ID", 8, true, 3, "node id, first 8 of 16 hex digits"},
      {Column::host, "HOST", 10, true, 1,
       "host name the node runs on; for RTP-MIDI: the node it joined through"},
      {Column::role, "ROLE", 4, true, 0, "hub, node, or rtp (a Mac, iPad, rtpMIDI session)"},
      {Column::term, "TERM", 4, false, 7, "election term of the hub it follows"},
      {Column::uptime, "UP", 6, false, 6, "time since the node started"},
      {Column::in_rate, "IN/s", 6, false, 0, "MIDI messages per second it receives from the mesh"},
      {Column::out_rate, "OUT/s", 6, false, 0, "MIDI messages per second it sends into the mesh"},
      {Column::in_total, "IN", 7, false, 8, "MIDI messages received in all"},
      {Column::out_total, "OUT", 7, false, 8, "MIDI messages sent in all"},
      {Column::bytes_rate, "B/s", 6, false, 4, "MIDI bytes per second, in + out"},
      {Column::lost, "LOST", 5, false, 0,
       "messages lost (gaps in senders' sequence numbers; RTP-MIDI packets lost on the way in)"},
      {Column::malformed, "BAD", 4, false, 5,
       "malformed messages dropped, bad RTP-MIDI packets or invitations, connections and hub "
       "claims refused"},
      {Column::rtt, "RTT", 5, false, 9, "round trip to the hub through the mesh, ms"},
      {Column::offset, "OFFS", 6, false, 2, "hub clock minus this node's clock, ms"},
  };
  return columns;
}

const ColumnSpec& spec(Column column) {
  return all_columns()[static_cast<std::size_t>(column)];
}

std::vector<ColumnSpec> fit_columns(int width) {
  std::vector<ColumnSpec> columns = all_columns();
  const auto total = [&] {
    int w = 1; // the marker
    for (const ColumnSpec& c : columns)
      w += c.width + 1;
    return w - 1;
  };
  for (int rank = 1; total() > width; ++rank) {
    const auto before = columns.size();
    std::erase_if(columns, [rank](const ColumnSpec& c) { return c.drop_rank == rank; });
    if (rank > 20) break; // only never-dropped columns are left: they overflow
    (void)before;
  }
  auto name = std::find_if(columns.begin(), columns.end(),
                           [](const ColumnSpec& c) { return c.column == Column::name; });
  name->width = std::clamp(name_min + (width - total()), name_min, name_max);
  return columns;
}

char marker(const NodeRow& row) {
  if (row.stale) return '!';
  return row.is_hub() ? '*' : ' ';
}

std::string cell(const NodeRow& row, Column column) {
  const wire::Status& s = row.last;
  switch (column) {
  case Column::name:
    return s.name;
  case Column::id:
    return row.id.substr(0, 8);
  case Column::host:
    return row.is_rtp() ? "via " + row.via_name : s.host;
  case Column::role:
    return row.is_hub() ? "hub" : row.is_rtp() ? "rtp" : s.role;
  case Column::term:
    return std::to_string(s.term);
  case Column::uptime:
    return human_duration(s.uptime_ms);
  case Column::in_rate:
    return row.stale ? "-" : human(row.rates.midi_in);
  case Column::out_rate:
    return row.stale ? "-" : human(row.rates.midi_out);
  case Column::in_total:
    return human(static_cast<double>(s.midi_in));
  case Column::out_total:
    return human(static_cast<double>(s.midi_out));
  case Column::bytes_rate:
    return row.stale ? "-" : human(row.rates.bytes_in + row.rates.bytes_out);
  case Column::lost:
    return human(static_cast<double>(s.lost + s.rtp_lost));
  case Column::malformed:
    return human(static_cast<double>(s.malformed + s.rtp_bad + s.refused));
  case Column::rtt:
    if (row.is_hub()) return "hub";
    if (s.rtt_us < 0) return "-";
    return ms(s.rtt_us, s.rtt_us < 10'000 ? 2 : s.rtt_us < 100'000 ? 1 : 0);
  case Column::offset:
    if (row.is_hub()) return "0";
    return ms(s.offset_us, std::abs(s.offset_us) < 100'000 ? 1 : 0);
  }
  return {};
}

std::string header_line(const std::vector<ColumnSpec>& columns, Column sort, bool descending) {
  std::string line = " ";
  for (std::size_t i = 0; i < columns.size(); ++i) {
    const ColumnSpec& c = columns[i];
    std::string title = c.title;
    if (c.column == sort)
      title = c.left ? title + (descending ? "v" : "^") : (descending ? "v" : "^") + title;
    line += fit(title, c.width, c.left);
    if (i + 1 < columns.size()) line += ' ';
  }
  return line;
}

std::string row_line(const NodeRow& row, const std::vector<ColumnSpec>& columns) {
  std::string line(1, marker(row));
  for (std::size_t i = 0; i < columns.size(); ++i) {
    const ColumnSpec& c = columns[i];
    line += fit(cell(row, c.column), c.width, c.left);
    if (i + 1 < columns.size()) line += ' ';
  }
  return line;
}

std::string summary_line(const Summary& s) {
  const std::string hub =
      s.hub_id.empty() ? "hub none yet" : fmt::format("hub {} (term {})", s.hub_name, s.term);
  const std::string stale = s.stale ? fmt::format(" ({} stale)", s.stale) : "";
  // Only when it happened: a flooding sender is news, a quiet mesh needs no zero.
  const std::string dropped = s.hub_dropped ? fmt::format("  hub dropped {} (over budget)",
                                                          human(static_cast<double>(s.hub_dropped)))
                                            : "";
  return fmt::format("mesh {}  {}  nodes {}{}  {} msg/s  {} B/s  lost {}{}", s.mesh, hub, s.nodes,
                     stale, human(s.midi_per_s), human(s.bytes_per_s), s.lost, dropped);
}

std::string text_table(const MeshView& view, int width) {
  const auto columns = fit_columns(width);
  std::string out = summary_line(view.summary()) + "\n";
  out += header_line(columns, view.sort_column(), view.sort_descending()) + "\n";
  for (const NodeRow* row : view.rows())
    out += row_line(*row, columns) + "\n";
  return out;
}

std::string human(double v) {
  if (v < 0) return "-" + human(-v);
  if (v < 10 && v != static_cast<double>(static_cast<std::uint64_t>(v)))
    return fmt::format("{:.1f}", v);
  if (v < 10'000) return fmt::format("{:.0f}", v);
  if (v < 1e6) return fmt::format("{:.{}f}k", v / 1e3, v < 1e5 ? 1 : 0);
  if (v < 1e9) return fmt::format("{:.{}f}M", v / 1e6, v < 1e8 ? 1 : 0);
  return fmt::format("{:.1f}G", v / 1e9);
}

std::string human_duration(std::uint64_t ms) {
  const std::uint64_t s = ms / 1000;
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
  return fmt::format("{}d{:02}h", s / 86400, s % 86400 / 3600);
}

} // namespace midimesh::meshtop
