// meshtop: the mesh live, like top. Finds the mesh by mDNS as a node would (or takes the hub
// given with --connect), listens to the monitor ports where the hub passes on every node's
// status report, and shows one row per node. It announces nothing and publishes nothing: the
// nodes do not know it is there, and it can never become hub.

#include "cli/version.hpp"
#include "json_output.hpp"
#include "log/log.hpp"
#include "mesh_view.hpp"
#include "midimesh_config.h"
#include "monitor/watcher.hpp"
#include "platform/poll_item.hpp"
#include "screen.hpp"
#include "security/passphrase.hpp"
#include "table.hpp"
#include "terminal.hpp"
#include "wire/envelope.hpp"
#include "wire/transport.hpp"

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>

namespace {

using namespace midimesh;
using namespace midimesh::meshtop;
using midimesh::monitor::Watcher;

volatile std::sig_atomic_t stop_requested = 0;

std::uint64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::uint64_t now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

struct Options {
  std::string mesh = "default";
  std::string connect;
  bool once = false;
  bool json = false;
  double refresh_s = 0.5;
  double wait_s = 3.0;
  double seconds = 0; // 0: until q, Ctrl-C or SIGTERM
  int width = 0;      // of --once's table; 0: the terminal's, or 120
  std::string log_file;
  std::string log_level = "warning";
  std::string secret_file; // empty: MIDIMESH_SECRET, or an open mesh
};

bool print_line(const std::string& text) {
  return std::fputs(text.c_str(), stdout) >= 0 && std::fputc('\n', stdout) != EOF &&
         std::fflush(stdout) == 0;
}

int run(const Options& o) {
  const bool full_screen = !o.once && !o.json;
  if (full_screen && !stdin_is_terminal())
    throw std::runtime_error("the full-screen view needs a terminal: use --once or --json");
  if (full_screen) move_log_away(o.log_file);

  MeshView view(o.mesh);
  std::uint64_t first_report_us = 0;
  auto on_status = [&](const std::string& sender, const wire::Status& status) {
    const std::uint64_t now = now_us();
    if (!first_report_us) first_report_us = now;
    view.on_status(sender, status, now);
  };

  const auto security =
      security::SocketSecurity::from(security::load_mesh_keys(o.secret_file, o.mesh));
  zmq::context_t context(1);
  std::unique_ptr<Watcher> watcher;
  if (!o.connect.empty()) {
    const auto hub = wire::parse_host_port(o.connect);
    if (!hub)
      throw std::runtime_error("--connect " + o.connect + ": not HOST, HOST:PORT or [ADDR]:PORT");
    watcher = std::make_unique<Watcher>(context, hub->host, hub->port, security, on_status);
  } else {
    watcher = std::make_unique<Watcher>(context, o.mesh, security, on_status);
  }

  std::optional<Screen> screen;
  if (full_screen) screen.emplace();

  const std::uint64_t start = now_us();
  const auto refresh_us = static_cast<std::uint64_t>(std::max(0.05, o.refresh_s) * 1e6);
  const auto wait_us = static_cast<std::uint64_t>(std::max(0.1, o.wait_s) * 1e6);
  const std::uint64_t end = o.seconds > 0 ? start + static_cast<std::uint64_t>(o.seconds * 1e6) : 0;
  // --once: every node reports about once a second through the same hub, so two seconds after
  // the first report every node has reported twice (and its rates are known).
  constexpr std::uint64_t once_after_first_us = 2'100'000;
  std::uint64_t next_refresh = start;
  std::uint64_t events_printed = 0;
  bool redraw = true;

  while (!stop_requested) {
    std::uint64_t now = now_us();
    view.tick(now);
    if (o.once) {
      const bool enough = first_report_us && now >= first_report_us + once_after_first_us;
      if (enough || now >= start + wait_us) break;
    }
    if (end && now >= end) break;
    if (screen && (redraw || now >= next_refresh)) {
      screen->draw(view, watcher->describe(), now);
      next_refresh = now + refresh_us;
      redraw = false;
    } else if (o.json && !o.once && now >= next_refresh) {
      if (!print_line(json_line(view, view.events_after(events_printed), now, wall_ms())))
        return 0; // reader gone
      events_printed = view.last_event_seq();
      next_refresh = now + refresh_us;
    }

    std::vector<zmq::pollitem_t> items;
    watcher->add_poll_items(items);
    const std::size_t watched = items.size();
    if (screen) items.push_back(platform::fd_item(screen->fd()));
    std::uint64_t wake = next_refresh;
    if (o.once) wake = std::min(wake, start + wait_us);
    if (const std::uint64_t w = watcher->next_wakeup_us(); w) wake = std::min(wake, w);
    now = now_us();
    const auto timeout = std::chrono::milliseconds(wake > now ? (wake - now + 999) / 1000 : 0);
    try {
      zmq::poll(items.data(), items.size(), std::min(timeout, std::chrono::milliseconds(500)));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
      continue; // a signal: the loop looks at the flag
    }
    const std::size_t before = view.last_event_seq();
    const auto reports_before = first_report_us;
    watcher->on_poll(items.data(), watched, now_us());
    if (screen) {
      if (items.back().revents & ZMQ_POLLIN) {
        if (!screen->read_keys(view)) break;
        redraw = true;
      }
      // A report or an event: show it now rather than at the next tick.
      if (view.last_event_seq() != before || first_report_us != reports_before) redraw = true;
    }
  }
  screen.reset(); // the terminal back before anything is printed

  const std::uint64_t now = now_us();
  view.tick(now);
  if (o.once && o.json) {
    print_line(json_line(view, view.events_after(0), now, wall_ms()));
  } else if (o.once) {
    std::fputs(text_table(view, o.width ? o.width : terminal_width()).c_str(), stdout);
    std::fflush(stdout);
  }
  // --once is for scripts: finding nobody is a failure they must be able to see.
  if (o.once && view.rows().empty()) {
    std::fprintf(stderr, "meshtop: no node reported within %.1f s (%s)\n", o.wait_s,
                 watcher->describe().c_str());
    return 1;
  }
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"meshtop: watch a midimesh mesh live (like top). Keys: q quit, s sort, S reverse, "
               "h help, arrows/PgUp/PgDn scroll."};
  app.set_version_flag("--version", cli::version_line("meshtop"));
  Options o;
  app.add_option("--mesh", o.mesh, "which mesh to watch, found by mDNS (default: default)");
  app.add_option("--connect", o.connect,
                 "watch the hub at HOST[:PORT] without mDNS (PORT: its base port, default 8141; "
                 "reports come from PORT+2)");
  app.add_flag("--once", o.once, "print one plain-text table and exit (waits at most --wait)");
  app.add_flag("--json", o.json,
               "print one JSON object per refresh, one line each (with --once: one, then exit)");
  app.add_option("--refresh", o.refresh_s, "seconds between refreshes (default 0.5)")
      ->check(CLI::Range(0.05, 60.0));
  app.add_option("--wait", o.wait_s, "--once: wait at most this many seconds (default 3)")
      ->check(CLI::Range(0.1, 600.0));
  app.add_option("--seconds", o.seconds, "exit after this many seconds (default: run until q)")
      ->check(CLI::Range(0.0, 1e6));
  app.add_option("--width", o.width, "--once: width of the table (default: the terminal's)")
      ->check(CLI::Range(40, 1000));
  app.add_option("--secret-file", o.secret_file,
                 "a secured mesh: its passphrase is FILE's first line (or set MIDIMESH_SECRET)");
  app.add_option("--log-file", o.log_file, "full-screen mode: write the log here");
  app.add_option("--log-level", o.log_level, "debug, info, warning (default), error");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error 2, whatever CLI11 numbers it.
    return app.exit(e) == 0 ? 0 : 2;
  }

  log::Level level;
  if (!log::parse_level(o.log_level, level)) {
    std::fprintf(stderr, "meshtop: --log-level %s: not debug, info, warning or error\n",
                 o.log_level.c_str());
    return 2;
  }
  log::set_level(level);

  catch_stop_requests(stop_requested);

  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meshtop: %s\n", e.what());
    return 1;
  }
}
