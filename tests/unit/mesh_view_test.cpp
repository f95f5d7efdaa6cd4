#include "json_output.hpp"
#include "mesh_view.hpp"
#include "table.hpp"

#include <catch2/catch.hpp>

using namespace midimesh;
using namespace midimesh::meshtop;

namespace {

const std::string hub_id = "00000000000000aa";
const std::string node_id = "00000000000000bb";
constexpr std::uint64_t s = 1'000'000; // one second on the view's clock

wire::Status report(const std::string& name, const std::string& role, const std::string& hub,
                    std::uint64_t term, std::uint64_t uptime_ms) {
  wire::Status st;
  st.name = name;
  st.role = role;
  st.hub = hub;
  st.term = term;
  st.uptime_ms = uptime_ms;
  st.mesh = "band";
  return st;
}

bool has_event(const MeshView& v, Event::Kind kind, const std::string& id) {
  for (const Event& e : v.events())
    if (e.kind == kind && e.id == id) return true;
  return false;
}

} // namespace

TEST_CASE("rates come from successive reports, timed by the node's uptime") {
  MeshView v("default");
  auto st = report("keys", "node", hub_id, 1, 10'000);
  st.midi_out = 100;
  st.midi_out_bytes = 300;
  v.on_status(node_id, st, 1 * s);
  CHECK(v.find(node_id)->rates.midi_out == 0); // one report: no rate yet
  st.uptime_ms = 12'000;
  st.midi_out = 500;
  st.midi_out_bytes = 1500;
  st.midi_in = 40;
  v.on_status(node_id, st, 1 * s + 1); // arrival time does not matter, the uptime does
  const NodeRow& row = *v.find(node_id);
  CHECK(row.rates.midi_out == Approx(200));
  CHECK(row.rates.bytes_out == Approx(600));
  CHECK(row.rates.midi_in == Approx(20));
  CHECK(v.summary().midi_per_s == Approx(200));
  CHECK(v.summary().mesh == "band");
}

TEST_CASE("a silent node turns stale after 2.5 s and goes after 10 s") {
  MeshView v("band");
  v.on_status(hub_id, report("hub", "hub", hub_id, 1, 1000), 0);
  v.on_status(node_id, report("keys", "node", hub_id, 1, 1000), 0);
  CHECK(has_event(v, Event::Kind::joined, node_id));
  v.on_status(hub_id, report("hub", "hub", hub_id, 1, 3000), 2 * s);
  v.tick(2 * s);
  CHECK_FALSE(v.find(node_id)->stale);
  v.tick(2'600'000);
  CHECK(v.find(node_id)->stale);
  CHECK(has_event(v, Event::Kind::stale, node_id));
  CHECK(v.summary().stale == 1);
  CHECK(marker(*v.find(node_id)) == '!');
  v.tick(10 * s);
  REQUIRE(v.find(node_id) != nullptr);
  v.tick(10 * s + 1);
  CHECK(v.find(node_id) == nullptr);
  CHECK(has_event(v, Event::Kind::gone, node_id));
  CHECK(v.summary().nodes == 1);
}

TEST_CASE("a stale node that reports again is back") {
  MeshView v("band");
  v.on_status(node_id, report("keys", "node", hub_id, 1, 1000), 0);
  v.tick(3 * s);
  v.on_status(node_id, report("keys", "node", hub_id, 1, 4000), 3 * s);
  CHECK_FALSE(v.find(node_id)->stale);
  CHECK(has_event(v, Event::Kind::back, node_id));
}

TEST_CASE("the hub, and a failover to a new hub with a higher term") {
  MeshView v("band");
  v.on_status(node_id, report("keys", "node", hub_id, 3, 1000), 0);
  CHECK(v.summary().hub_id == hub_id); // known from its follower before it reports itself
  v.on_status(hub_id, report("drums", "hub", hub_id, 3, 1000), 1);
  CHECK(v.summary().hub_name == "drums");
  CHECK(v.summary().term == 3);
  // The hub crashes; keys becomes hub with term 4.
  v.on_status(node_id, report("keys", "hub", node_id, 4, 2000), 1 * s);
  const Summary sum = v.summary();
  CHECK(sum.hub_id == node_id);
  CHECK(sum.hub_name == "keys");
  CHECK(sum.term == 4);
  REQUIRE(v.events().back().kind == Event::Kind::hub);
  CHECK(v.events().back().value == 4);
  CHECK(v.events().back().text.find("failover") != std::string::npos);
}

TEST_CASE("lost and malformed counters that grow are events") {
  MeshView v("band");
  auto st = report("keys", "node", hub_id, 1, 1000);
  v.on_status(node_id, st, 0);
  st.lost = 7;
  st.uptime_ms = 2000;
  v.on_status(node_id, st, s);
  REQUIRE(v.events().back().kind == Event::Kind::lost);
  CHECK(v.events().back().value == 7);
  CHECK(v.summary().lost == 7);
  const auto seq = v.last_event_seq();
  st.uptime_ms = 3000;
  v.on_status(node_id, st, 2 * s); // unchanged: no event
  CHECK(v.events_after(seq).empty());
}

TEST_CASE("sorting: s cycles the columns, S reverses") {
  MeshView v("band");
  auto a = report("alpha", "node", hub_id, 1, 5000);
  auto b = report("bravo", "hub", hub_id, 1, 9000);
  v.on_status("000000000000000a", a, 0);
  v.on_status(hub_id, b, 0);
  CHECK(v.rows()[0]->last.name == "alpha");
  v.reverse_sort();
  CHECK(v.rows()[0]->last.name == "bravo");
  v.sort_by(Column::uptime, true);
  CHECK(v.rows()[0]->last.name == "bravo");
  v.sort_by(Column::name, false);
  v.next_sort_column();
  CHECK(v.sort_column() == Column::id);
  for (int i = 0; i < column_count; ++i)
    v.next_sort_column();
  CHECK(v.sort_column() == Column::id); // all the way round
}

TEST_CASE("an 80-column terminal keeps the important columns") {
  const auto cols = fit_columns(80);
  int width = 1;
  bool has_lost = false, has_host = false;
  for (const auto& c : cols) {
    width += c.width + 1;
    has_lost |= c.column == Column::lost;
    has_host |= c.column == Column::host;
  }
  CHECK(width - 1 <= 80);
  CHECK(has_lost);
  CHECK_FALSE(has_host);
  CHECK(fit_columns(200).size() == all_columns().size());
  MeshView v("band");
  v.on_status(hub_id, report("a-very-long-node-name-indeed", "hub", hub_id, 1, 1000), 0);
  CHECK(row_line(*v.rows()[0], cols).size() <= 80);
  CHECK(row_line(*v.rows()[0], cols)[0] == '*');
}

TEST_CASE("formatting numbers and durations") {
  CHECK(human(0) == "0");
  CHECK(human(2.5) == "2.5");
  CHECK(human(1234) == "1234");
  CHECK(human(12345) == "12.3k");
  CHECK(human(2'500'000) == "2.5M");
  CHECK(human_duration(59'999) == "59s");
  CHECK(human_duration(3'725'000) == "1h02m");
}

TEST_CASE("JSON: escaped strings, one line, events given") {
  CHECK(json_string("a\"b\\c\n\x01") == "\"a\\\"b\\\\c\\n\\u0001\"");
  MeshView v("band");
  v.on_status(hub_id, report("say \"hi\"", "hub", hub_id, 2, 1000), 0);
  const std::string line = json_line(v, v.events_after(0), 500'000, 1'764'460'800'000);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.starts_with("{\"schema\":1,\"time_ms\":1764460800000,"));
  CHECK(line.find("\"name\":\"say \\\"hi\\\"\"") != std::string::npos);
  CHECK(line.find("\"term\":2") != std::string::npos);
  CHECK(line.find("\"age_ms\":500") != std::string::npos);
  CHECK(line.find("\"rtt_ms\":null") != std::string::npos);
  CHECK(line.find("\"kind\":\"joined\"") != std::string::npos);
}

TEST_CASE("a follower's report of the hub before the hub's own: one hub event") {
  MeshView v("band");
  v.on_status(node_id, report("keys", "node", hub_id, 0, 1000), 0); // --connect: term unknown
  v.on_status(hub_id, report("drums", "hub", hub_id, 1, 1000), 1);
  int hub_events = 0;
  for (const Event& e : v.events())
    hub_events += e.kind == Event::Kind::hub;
  CHECK(hub_events == 1);
  CHECK(v.summary().term == 1);
  CHECK(v.summary().hub_name == "drums");
}

TEST_CASE("an RTP-MIDI member is a row of its own: role rtp, via the node it joined through") {
  MeshView v("band");
  v.on_status(hub_id, report("stage", "hub", hub_id, 1, 5'000), 1 * s);
  auto mac = report("MacBook", "node", hub_id, 1, 0);
  mac.kind = "rtp";
  mac.via = hub_id;
  mac.lost = 2;
  mac.rtp_bad = 0;
  const std::string mac_id = "00000000000000cc";
  v.on_status(mac_id, mac, 1 * s + 1);
  const NodeRow& row = *v.find(mac_id);
  CHECK(row.is_rtp());
  CHECK(row.via_name == "stage");
  CHECK(cell(row, Column::role) == "rtp");
  CHECK(cell(row, Column::host) == "via stage");
  CHECK(cell(row, Column::lost) == "2");
  CHECK(has_event(v, Event::Kind::joined, mac_id));
  // A node's BAD column counts its RTP-MIDI bad input too.
  auto hub = report("stage", "hub", hub_id, 1, 6'000);
  hub.malformed = 1;
  hub.rtp_bad = 4;
  v.on_status(hub_id, hub, 2 * s);
  CHECK(cell(*v.find(hub_id), Column::malformed) == "5");
  CHECK(json_line(v, {}, 2 * s, 0).find("\"kind\":\"rtp\"") != std::string::npos);
}

TEST_CASE(
    "what the hub dropped over senders' budgets shows in the summary, only when it happened") {
  MeshView v("band");
  v.on_status(hub_id, report("hub", "hub", hub_id, 1, 1000), 0);
  CHECK(summary_line(v.summary()).find("dropped") == std::string::npos);
  wire::Status st = report("hub", "hub", hub_id, 1, 2000);
  st.hub_dropped = 1'945'000;
  v.on_status(hub_id, st, 1 * s);
  CHECK(v.summary().hub_dropped == 1'945'000);
  CHECK(summary_line(v.summary()).find("hub dropped 1.9M (over budget)") != std::string::npos);
}
