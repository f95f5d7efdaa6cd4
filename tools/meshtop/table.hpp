#pragma once
// What the table's columns are, how a cell reads, and which columns fit a given width: shared by
// the full-screen view and the plain-text table of --once. Pure: strings in, strings out.

#include "mesh_view.hpp"

#include <string>
#include <vector>

namespace midimesh::meshtop {

struct ColumnSpec {
  Column column;
  const char* title;
  int width;
  bool left;           // text left-aligned, numbers right-aligned
  int drop_rank;       // narrow terminals drop rank 1 first, then 2...; 0: never dropped
  const char* meaning; // for the help overlay and the README
};

const std::vector<ColumnSpec>& all_columns();
const ColumnSpec& spec(Column column);

// The columns that fit in `width` characters (one space between columns, one for the marker
// before the name), the least important dropped first; the name column takes what is left over,
// up to 20 characters.
std::vector<ColumnSpec> fit_columns(int width);

// One cell, not padded.
std::string cell(const NodeRow& row, Column column);
// The marker before a row: '*' the hub, '!' stale (no report for 2.5 s), ' ' otherwise.
char marker(const NodeRow& row);

// Lines of the table, each exactly as wide as the columns (no trailing newline).
std::string header_line(const std::vector<ColumnSpec>& columns, Column sort, bool descending);
std::string row_line(const NodeRow& row, const std::vector<ColumnSpec>& columns);
// "mesh default  hub keys (term 3)  nodes 3 (1 stale)  1234 msg/s  lost 0"
std::string summary_line(const Summary& summary);

// The whole table as text for --once: summary, column titles, one line per node.
std::string text_table(const MeshView& view, int width);

// 1234 -> "1234", 12345 -> "12.3k", 1234567 -> "1.23M"
std::string human(double value);
// 3725000 ms -> "1h02m"
std::string human_duration(std::uint64_t ms);

} // namespace midimesh::meshtop
