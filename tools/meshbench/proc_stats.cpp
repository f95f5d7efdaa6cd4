#include "proc_stats.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace meshbench {

ProcReading read_proc(pid_t pid) {
  ProcReading reading;
  const std::string dir = "/proc/" + std::to_string(pid);
  std::ifstream stat(dir + "/stat");
  std::string line;
  if (std::getline(stat, line)) {
    // The command name (field 2) may hold spaces: count fields from its closing parenthesis.
    std::istringstream fields(line.substr(line.rfind(')') + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
    }
    reading.cpu_seconds =
        static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  // Per thread: the ZeroMQ I/O thread does much of a node's work.
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator(dir + "/task", error)) {
    std::ifstream schedstat(task.path() / "schedstat");
    unsigned long long run_ns = 0;
    if (schedstat >> run_ns) reading.run_seconds += static_cast<double>(run_ns) / 1e9;
    std::ifstream task_status(task.path() / "status");
    while (std::getline(task_status, line))
      if (line.starts_with("voluntary_ctxt_switches:")) {
        const std::uint64_t sleeps = std::stoull(line.substr(line.find(':') + 1));
        reading.sleeps += sleeps;
        if (task.path().filename() == std::to_string(pid)) reading.main_thread_sleeps = sleeps;
      }
  }
  std::ifstream status(dir + "/status");
  while (std::getline(status, line))
    if (line.starts_with("VmHWM:")) reading.peak_rss_kib = std::stoull(line.substr(6));
  return reading;
}

} // namespace meshbench
