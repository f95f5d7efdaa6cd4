#include "screen.hpp"

#include "table.hpp"

#include <algorithm>
#include <chrono>
#include <clocale>
#include <ctime>
#include <fmt/format.h>
#include <ncurses.h>

namespace midimesh::meshtop {
namespace {

// Draws `text` at (y, 0), cut or padded to the full width.
void line(int y, const std::string& text, attr_t attr = A_NORMAL) {
  const int width = COLS;
  std::string shown = text.substr(0, static_cast<std::size_t>(std::max(width, 0)));
  shown.resize(static_cast<std::size_t>(std::max(width, 0)), ' ');
  attron(attr);
  mvaddnstr(y, 0, shown.c_str(), width);
  attroff(attr);
}

// Wall-clock time of an event, from its monotonic time.
std::string clock_of(std::uint64_t event_us, std::uint64_t now_us) {
  using namespace std::chrono;
  const auto wall = system_clock::now() - microseconds(now_us > event_us ? now_us - event_us : 0);
  const std::time_t t = system_clock::to_time_t(wall);
  std::tm tm{};
  localtime_r(&t, &tm);
  char text[16];
  std::strftime(text, sizeof text, "%H:%M:%S", &tm);
  return text;
}

} // namespace

Screen::Screen() {
  std::setlocale(LC_ALL, ""); // line drawing and names in the terminal's encoding
  initscr();
  cbreak();
  noecho();
  keypad(stdscr, TRUE);
  nodelay(stdscr, TRUE);
  curs_set(0);
  set_escdelay(25);
}

Screen::~Screen() {
  endwin();
}

bool Screen::read_keys(MeshView& view) {
  for (int ch = getch(); ch != ERR; ch = getch()) {
    if (help_ && ch != KEY_RESIZE) { // any key closes the help; q still quits
      help_ = false;
      if (ch == 'q' || ch == 'Q') return false;
      continue;
    }
    switch (ch) {
    case 'q':
    case 'Q':
      return false;
    case 's':
      view.next_sort_column();
      break;
    case 'S':
      view.reverse_sort();
      break;
    case 'h':
    case 'H':
    case '?':
      help_ = true;
      break;
    case KEY_UP:
    case 'k':
      --scroll_;
      break;
    case KEY_DOWN:
    case 'j':
      ++scroll_;
      break;
    case KEY_PPAGE:
      scroll_ -= page_;
      break;
    case KEY_NPAGE:
    case ' ':
      scroll_ += page_;
      break;
    case KEY_HOME:
      scroll_ = 0;
      break;
    case KEY_END:
      scroll_ = 1 << 20;
      break;
    default:
      break;
    }
  }
  return true;
}

void Screen::draw(const MeshView& view, const std::string& status, std::uint64_t now_us) {
  erase();
  const int height = LINES, width = COLS;
  const auto columns = fit_columns(width);
  const auto rows = view.rows();
  const int n = static_cast<int>(rows.size());
  const int event_lines = height >= 20 ? 4 : height >= 12 ? 2 : 0;
  page_ = std::max(1, height - 3 - (event_lines ? event_lines + 1 : 0));
  scroll_ = std::clamp(scroll_, 0, std::max(0, n - page_));

  line(0, "meshtop  " + summary_line(view.summary()), A_BOLD);
  const std::string order = view.sort_descending() ? "v" : "^";
  std::string keys = fmt::format("q quit  s sort ({}{})  S reverse  h help",
                                 spec(view.sort_column()).title, order);
  if (n > page_)
    keys += fmt::format("  up/down/PgUp/PgDn: rows {}-{} of {}", scroll_ + 1,
                        std::min(n, scroll_ + page_), n);
  if (n == 0) keys += "  | " + status;
  line(1, keys);
  line(2, header_line(columns, view.sort_column(), view.sort_descending()), A_REVERSE);
  for (int i = 0; i < page_ && scroll_ + i < n; ++i) {
    const NodeRow& row = *rows[static_cast<std::size_t>(scroll_ + i)];
    line(3 + i, row_line(row, columns), row.stale ? A_DIM : row.is_hub() ? A_BOLD : A_NORMAL);
  }
  if (event_lines) {
    const int top = height - event_lines;
    line(top - 1, std::string("-- events ") + std::string(static_cast<std::size_t>(width), '-'));
    const auto& events = view.events();
    const int shown = std::min<int>(event_lines, static_cast<int>(events.size()));
    for (int i = 0; i < shown; ++i) {
      const Event& e =
          events[events.size() - static_cast<std::size_t>(shown) + static_cast<std::size_t>(i)];
      const bool alarm = e.kind == Event::Kind::lost || e.kind == Event::Kind::malformed ||
                         e.kind == Event::Kind::stale || e.kind == Event::Kind::gone;
      line(top + i, clock_of(e.time_us, now_us) + " " + e.text, alarm ? A_BOLD : A_NORMAL);
    }
  }
  if (help_)
    draw_help(); // refreshes the table under it too
  else
    refresh();
}

void Screen::draw_help() {
  std::vector<std::string> text = {
      "meshtop: one row per node of the mesh, from the status reports",
      "the nodes send their hub about once a second.",
      "",
      "q quit   s next sort column   S reverse the order",
      "up/down, PgUp/PgDn, Home/End: scroll   h: this help",
      "",
  };
  for (const ColumnSpec& c : all_columns())
    text.push_back(fmt::format("{:<5} {}", c.title, c.meaning));
  text.push_back("");
  text.push_back("A row is marked '!' after 2.5 s without a report, removed after 10 s.");
  text.push_back("Narrow terminals drop HOST, OFFS, ID, B/s first.   Any key: close");
  int w = 0;
  for (const auto& t : text)
    w = std::max(w, static_cast<int>(t.size()));
  w = std::min(w + 4, COLS);
  const int h = std::min(static_cast<int>(text.size()) + 2, LINES);
  const int y0 = (LINES - h) / 2, x0 = (COLS - w) / 2;
  WINDOW* win = newwin(h, w, y0, x0);
  if (!win) return;
  werase(win);
  box(win, 0, 0);
  mvwaddstr(win, 0, 2, " help ");
  for (int i = 0; i < h - 2 && i < static_cast<int>(text.size()); ++i)
    mvwaddnstr(win, 1 + i, 2, text[static_cast<std::size_t>(i)].c_str(), w - 4);
  wnoutrefresh(stdscr);
  wnoutrefresh(win);
  doupdate();
  delwin(win);
}

} // namespace midimesh::meshtop
