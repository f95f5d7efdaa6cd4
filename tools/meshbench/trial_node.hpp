#pragma once
// One midimesh node process of a join or failover trial: socket MIDI ports of its own, its own
// log file, owned by PID (ended when this object goes). Its place in the mesh is read from its
// log, the way tests/integration/meshlab.py's role() does: the lines a node writes when it
// becomes hub or joins through one.

#include "hub_process.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace meshbench {

struct NodeRole {
  enum class Kind { none, hub, follower } kind = Kind::none;
  std::string hub_id; // follower: the hub it joined through
};

class TrialNode {
public:
  // Starts `midimesh ARGS --midi-api socket --port-name DIR/NAME --name NAME`, its output going
  // to DIR/NAME.log. Throws HubProcessError when it cannot be started.
  TrialNode(const std::string& midimesh, const std::vector<std::string>& args,
            const std::string& dir, const std::string& name);

  const std::string& name() const noexcept { return name_; }
  const std::string& port_name() const noexcept { return port_name_; }
  const std::string& log_path() const noexcept { return log_path_; }
  bool running() noexcept { return process_.running(); }
  // Sends `signal` now without waiting (SIGKILL, SIGTERM); nothing if it has already exited.
  void signal(int signal) noexcept;
  // Collects it: SIGTERM, a bounded wait, SIGKILL. Returns how it ended.
  std::string stop() noexcept { return process_.stop(); }

  std::string log() const; // everything it wrote so far
  std::string id() const;  // its node id, once logged; else empty
  NodeRole role() const;   // by the last line about its role
  bool logged(const std::string& text) const { return log().find(text) != std::string::npos; }

private:
  std::string name_, port_name_, log_path_;
  ChildProcess process_;
};

// The name of the one node that is hub while every other follows it, if the nodes agree.
std::optional<std::string> agreed_hub(const std::vector<TrialNode*>& nodes);

} // namespace meshbench
