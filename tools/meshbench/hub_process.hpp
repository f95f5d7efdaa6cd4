#pragma once
// Real midimesh child processes (the hub, and nodes), each owned by PID. The destructor ends it
// (SIGTERM, a bounded wait, SIGKILL as the last resort) however the benchmark leaves its scope, so
// a failed run never leaves a process behind. The child also gets SIGTERM from the kernel if this
// process dies first.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <sys/types.h>
#include <vector>

namespace meshbench {

struct HubProcessError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class ChildProcess {
public:
  // Starts args[0] with args, its output going to log_path (appended when `append`).
  // Throws HubProcessError when the process cannot be started.
  ChildProcess(std::vector<std::string> args, const std::string& log_path, bool append = false);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const noexcept { return pid_; }
  // False once the child has exited (e.g. its port was taken); its exit is then collected.
  bool running() noexcept;
  // SIGTERM without waiting: many children can then be stopped at once.
  void terminate() noexcept;
  // SIGTERM, up to wait_ms for it to exit, then SIGKILL. Returns the exit description.
  std::string stop(int wait_ms = 3000) noexcept;

private:
  pid_t pid_ = -1;
  int status_ = 0;
};

// `midimesh --hub --no-midi --bind 127.0.0.1 --port port`, then `extra`.
class HubProcess : public ChildProcess {
public:
  HubProcess(const std::string& midimesh, std::uint16_t port, const std::string& log_path,
             const std::vector<std::string>& extra = {});
};

// A base port P such that P, P + 1 and P + 2 (a hub's ports) are free on 127.0.0.1 right now.
std::uint16_t find_free_hub_ports();

// The mesh of the hubs and nodes meshbench starts: never "default", where a forced hub announced
// by mDNS would take over the musicians' (or tests') nodes on this computer.
std::string bench_mesh();

} // namespace meshbench
