#pragma once
// One midimesh node process of a join or failover trial: socket MIDI ports of its own, its own
// log file, owned by PID (ended when this object goes). Its place in the mesh is what it reports
// on the hub's monitor port (mesh_roles.hpp), not read from its log.

#include "hub_process.hpp"

#include <string>
#include <vector>

namespace meshbench {

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

private:
  std::string name_, port_name_, log_path_;
  ChildProcess process_;
};

} // namespace meshbench
