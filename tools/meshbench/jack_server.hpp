#pragma once
// A JACK server of meshbench's own on the dummy driver (no sound card needed), owned by PID like
// the hub, and clients opened on it. Synchronous mode (-S): without realtime privileges the
// dummy driver has xruns at small periods, and in the default asynchronous mode each can lose
// MIDI events; in synchronous mode none were lost at any period here.

#include "hub_process.hpp"

#include <chrono>
#include <jack/jack.h>
#include <memory>
#include <optional>
#include <string>

namespace meshbench {

// The path of `jackd` in PATH, or "" when it is not installed.
std::string find_jackd();

using JackClientHandle = std::unique_ptr<jack_client_t, int (*)(jack_client_t*)>;

// A client called `name` (exactly) of the running server `server`; null when it cannot be
// opened, with libjack's reason in `error`. Never starts a server. libjack's messages are kept
// off stderr: it prints one for every attempt while a server starts.
JackClientHandle open_jack_client(const std::string& server, const std::string& name,
                                  std::string* error = nullptr);

// Sets an environment variable until destroyed, then restores the previous value.
class ScopedEnv {
public:
  ScopedEnv(const char* name, const std::string& value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
  const char* name_;
  std::optional<std::string> previous_;
};

class JackServer {
public:
  // Starts `jackd --no-realtime -S -n name -d dummy -r rate -p period`, its output going to
  // log_path, and sets JACK_DEFAULT_SERVER=name for this process, so that the nodes started
  // while it lives use it. Returns once the server accepts a client. Throws BenchError when
  // the server exits or does not answer within `limit`.
  JackServer(const std::string& jackd, const std::string& name, unsigned period, unsigned rate,
             const std::string& log_path, std::chrono::milliseconds limit);

  const std::string& name() const noexcept { return name_; }
  pid_t pid() const noexcept { return process_.pid(); }
  bool running() noexcept { return process_.running(); }
  // Ends the server and waits for its exit (a server of the same name cannot start before).
  std::string stop() noexcept { return process_.stop(); }

private:
  std::string name_;
  ScopedEnv env_; // before process_: the child inherits it, and it outlives the child
  ChildProcess process_;
};

} // namespace meshbench
