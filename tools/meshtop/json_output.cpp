#include "json_output.hpp"

#include "table.hpp"

#include <cmath>
#include <fmt/format.h>

namespace midimesh::meshtop {
namespace {

std::string number(double v) {
  if (!std::isfinite(v)) return "0";
  return fmt::format("{:.3f}", v);
}

} // namespace

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\b':
      out += "\\b";
      break;
    case '\f':
      out += "\\f";
      break;
    default:
      if (c < 0x20 || c == 0x7f)
        out += fmt::format("\\u{:04x}", c);
      else
        out += ch; // UTF-8 passes through; names come from other machines' host names and flags
    }
  }
  return out + "\"";
}

std::string json_line(const MeshView& view, const std::vector<Event>& events, std::uint64_t now_us,
                      std::uint64_t wall_ms) {
  const Summary s = view.summary();
  std::string out = fmt::format(
      "{{\"schema\":{},\"time_ms\":{},\"mesh\":{},\"hub\":{},\"hub_id\":{},\"term\":{},"
      "\"node_count\":{},\"stale_count\":{},"
      "\"totals\":{{\"midi_per_s\":{},\"bytes_per_s\":{},\"lost\":{},\"malformed\":{},"
      "\"hub_dropped\":{}}},"
      "\"sort\":{},\"nodes\":[",
      json_schema, wall_ms, json_string(s.mesh), json_string(s.hub_name), json_string(s.hub_id),
      s.term, s.nodes, s.stale, number(s.midi_per_s), number(s.bytes_per_s), s.lost, s.malformed,
      s.hub_dropped, json_string(spec(view.sort_column()).title));
  bool first = true;
  for (const NodeRow* r : view.rows()) {
    const wire::Status& st = r->last;
    out += first ? "" : ",";
    first = false;
    out += fmt::format(
        "{{\"name\":{},\"id\":{},\"host\":{},\"role\":{},\"is_hub\":{},\"hub\":{},\"term\":{},"
        "\"stale\":{},\"age_ms\":{},\"uptime_ms\":{},\"program\":{},\"peers\":{},"
        "\"midi_in\":{},\"midi_out\":{},\"midi_in_bytes\":{},\"midi_out_bytes\":{},"
        "\"lost\":{},\"malformed\":{},"
        "\"midi_in_per_s\":{},\"midi_out_per_s\":{},\"bytes_in_per_s\":{},\"bytes_out_per_s\":{},"
        "\"rtt_ms\":{},\"offset_ms\":{},\"kind\":{},\"via\":{},\"via_name\":{},"
        "\"rtp_port\":{},\"rtp_lost\":{},\"rtp_recovered\":{},\"rtp_bad\":{},"
        "\"refused\":{},\"hub_dropped\":{}}}",
        json_string(st.name), json_string(r->id), json_string(st.host), json_string(st.role),
        r->is_hub() ? "true" : "false", json_string(st.hub), st.term, r->stale ? "true" : "false",
        now_us > r->last_report_us ? (now_us - r->last_report_us) / 1000 : 0, st.uptime_ms,
        json_string(st.program), st.peers, st.midi_in, st.midi_out, st.midi_in_bytes,
        st.midi_out_bytes, st.lost, st.malformed, number(r->rates.midi_in),
        number(r->rates.midi_out), number(r->rates.bytes_in), number(r->rates.bytes_out),
        st.rtt_us < 0 ? std::string("null") : number(static_cast<double>(st.rtt_us) / 1000.0),
        number(static_cast<double>(st.offset_us) / 1000.0), json_string(st.kind),
        json_string(st.via), json_string(r->via_name), st.rtp_port, st.rtp_lost, st.rtp_recovered,
        st.rtp_bad, st.refused, st.hub_dropped);
  }
  out += "],\"events\":[";
  first = true;
  for (const Event& e : events) {
    out += first ? "" : ",";
    first = false;
    out += fmt::format("{{\"seq\":{},\"kind\":{},\"id\":{},\"name\":{},\"value\":{},\"text\":{}}}",
                       e.seq, json_string(describe(e.kind)), json_string(e.id), json_string(e.name),
                       e.value, json_string(e.text));
  }
  return out + "]}";
}

} // namespace midimesh::meshtop
