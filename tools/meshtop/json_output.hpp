#pragma once
// meshtop --json: one JSON object per refresh, on one line, for scripts. Written by hand (no
// JSON library in the build): strings are escaped per RFC 8259, numbers are finite.

#include "mesh_view.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace midimesh::meshtop {

// The string as a JSON string literal, quotes included.
std::string json_string(std::string_view text);

// The version of the lines' layout (README, "meshtop --json"): a script checks it. It grows when a
// key changes meaning or goes away; added keys do not change it.
inline constexpr int json_schema = 1;

// The mesh as one line (no newline): "schema", "time_ms" (wall clock, ms since 1970), header
// fields, "nodes" (one object per row, in the view's order) and "events" (those given: what
// happened since the previous line). now_us: the same clock as the view's, for each node's age.
std::string json_line(const MeshView& view, const std::vector<Event>& events, std::uint64_t now_us,
                      std::uint64_t wall_ms);

} // namespace midimesh::meshtop
