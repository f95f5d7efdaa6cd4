#pragma once
// What Linux says about a process in /proc: CPU time used so far and peak memory. Readings of a
// process that has gone are zero.

#include <cstdint>
#include <sys/types.h>

namespace meshbench {

struct ProcReading {
  double cpu_seconds = 0;         // utime + stime, in clock ticks (10 ms here)
  double run_seconds = 0;         // on a CPU, from every /proc/PID/task/*/schedstat; 0 if absent
  std::uint64_t peak_rss_kib = 0; // VmHWM
  // Times a thread went to sleep (voluntary context switches), each followed by a wake-up:
  // every thread, and the main thread alone.
  std::uint64_t sleeps = 0, main_thread_sleeps = 0;
  // The finer of the two: schedstat when the kernel has it, else utime + stime.
  double cpu() const noexcept { return run_seconds > 0 ? run_seconds : cpu_seconds; }
};

ProcReading read_proc(pid_t pid);

} // namespace meshbench
