// meshtop without a curses library (the Windows build): --once and --json only.
#include "screen.hpp"

#include <stdexcept>

namespace midimesh::meshtop {

Screen::Screen() {
  throw std::runtime_error("this meshtop was built without a full-screen view (no curses "
                           "library): use --once or --json");
}

Screen::~Screen() = default;

bool Screen::read_keys(MeshView&) {
  return false;
}

void Screen::draw(const MeshView&, const std::string&, std::uint64_t) {}

void Screen::draw_help() {}

} // namespace midimesh::meshtop
