#include "hub_process.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace meshbench {
namespace {

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("ended by signal {}", WTERMSIG(status));
  return "ended";
}

// Binds a TCP socket on 127.0.0.1:port (0: any); returns the port bound, or 0 on failure.
std::uint16_t try_bind(std::uint16_t port, int& fd) {
  fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return 0;
  return ntohs(addr.sin_port);
}

} // namespace

namespace {
std::vector<std::string> hub_args(const std::string& midimesh, std::uint16_t port,
                                  const std::vector<std::string>& extra) {
  std::vector<std::string> args = {midimesh,    "--hub",  "--no-midi",         "--bind",
                                   "127.0.0.1", "--port", std::to_string(port)};
  if (std::find(extra.begin(), extra.end(), "--mesh") == extra.end())
    args.insert(args.end(), {"--mesh", bench_mesh()});
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}
} // namespace

HubProcess::HubProcess(const std::string& midimesh, std::uint16_t port, const std::string& log_path,
                       const std::vector<std::string>& extra)
    : ChildProcess(hub_args(midimesh, port, extra), log_path) {}

ChildProcess::ChildProcess(std::vector<std::string> args, const std::string& log_path,
                           bool append) {
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  const int log_fd = ::open(log_path.c_str(),
                            O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC) | O_CLOEXEC, 0644);
  if (log_fd < 0)
    throw HubProcessError(
        fmt::format("cannot write the hub log {}: {}", log_path, std::strerror(errno)));
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(log_fd);
    throw HubProcessError(fmt::format("cannot fork: {}", std::strerror(errno)));
  }
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM); // no orphaned hub if the benchmark is killed
    if (::getppid() != parent) ::_exit(126);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
}

ChildProcess::~ChildProcess() {
  (void)stop();
}

bool ChildProcess::running() noexcept {
  if (pid_ <= 0) return false;
  if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void ChildProcess::terminate() noexcept {
  if (running()) ::kill(pid_, SIGTERM);
}

std::string ChildProcess::stop(int wait_ms) noexcept {
  if (!running()) return describe_status(status_);
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
      pid_ = -1;
      return describe_status(status_);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL); // it ignored SIGTERM: do not leave it running
  ::waitpid(pid_, &status_, 0);
  pid_ = -1;
  return describe_status(status_) + " (after SIGKILL)";
}

std::string bench_mesh() {
  return fmt::format("meshbench-{}", ::getpid());
}

std::uint16_t find_free_hub_ports() {
  // A hub binds three: inbound, outbound and its monitor (PROTOCOL.md section 1).
  for (int attempt = 0; attempt < 20; ++attempt) {
    int fds[3] = {-1, -1, -1};
    const std::uint16_t port = try_bind(0, fds[0]);
    bool ok = port != 0 && port < 65533;
    for (int i = 1; ok && i < 3; ++i)
      ok = try_bind(static_cast<std::uint16_t>(port + i), fds[i]) == port + i;
    for (const int fd : fds)
      if (fd >= 0) ::close(fd);
    if (ok) return port;
  }
  throw HubProcessError("found no three free consecutive ports on 127.0.0.1");
}

} // namespace meshbench
