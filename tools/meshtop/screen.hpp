#pragma once
// The full-screen view (ncurses), like top: a summary, the node table, the last events, and the
// keys. Only drawing and keys live here; what to show comes from MeshView and table.hpp.

#include "mesh_view.hpp"

#include <cstdint>
#include <string>

namespace midimesh::meshtop {

class Screen {
public:
  Screen();  // takes over the terminal
  ~Screen(); // gives it back, also when an exception unwinds
  Screen(const Screen&) = delete;
  Screen& operator=(const Screen&) = delete;

  int fd() const noexcept { return 0; } // keys arrive on stdin
  // Reads every pending key; returns false when the user asked to quit.
  bool read_keys(MeshView& view);
  // status: a line about discovery, shown while no node reports.
  void draw(const MeshView& view, const std::string& status, std::uint64_t now_us);

private:
  void draw_help();

  int scroll_ = 0;
  int page_ = 1; // table rows that fit, from the last draw
  bool help_ = false;
};

} // namespace midimesh::meshtop
