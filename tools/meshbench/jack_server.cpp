#include "jack_server.hpp"

#include "bench_mesh.hpp"

#include <cstdlib>
#include <fmt/format.h>
#include <mutex>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace meshbench {
namespace {

// libjack reports through one process-wide function, from any thread, its process thread
// included: only the thread opening a client collects the text, so that the others allocate
// nothing.
thread_local std::string* jack_error_capture = nullptr;

void on_jack_error(const char* text) {
  if (jack_error_capture)
    *jack_error_capture += (jack_error_capture->empty() ? "" : "; ") + std::string(text);
}
void ignore_jack_info(const char*) {}

} // namespace

std::string find_jackd() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/jackd";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

JackClientHandle open_jack_client(const std::string& server, const std::string& name,
                                  std::string* error) {
  static std::once_flag silence;
  std::call_once(silence, [] {
    jack_set_error_function(on_jack_error);
    jack_set_info_function(ignore_jack_info);
  });
  std::string errors;
  jack_error_capture = &errors;
  jack_status_t status{};
  jack_client_t* client = jack_client_open(
      name.c_str(),
      static_cast<jack_options_t>(JackNoStartServer | JackUseExactName | JackServerName), &status,
      server.c_str());
  jack_error_capture = nullptr;
  if (!client && error)
    *error = fmt::format("status 0x{:x}{}{}", static_cast<unsigned>(status),
                         errors.empty() ? "" : ": ", errors);
  return JackClientHandle(client, &jack_client_close);
}

ScopedEnv::ScopedEnv(const char* name, const std::string& value) : name_(name) {
  if (const char* old = std::getenv(name)) previous_ = old;
  ::setenv(name, value.c_str(), 1);
}

ScopedEnv::~ScopedEnv() {
  if (previous_)
    ::setenv(name_, previous_->c_str(), 1);
  else
    ::unsetenv(name_);
}

JackServer::JackServer(const std::string& jackd, const std::string& name, unsigned period,
                       unsigned rate, const std::string& log_path, std::chrono::milliseconds limit)
    : name_(name), env_("JACK_DEFAULT_SERVER", name),
      process_({jackd, "--no-realtime", "-S", "-n", name, "-d", "dummy", "-r", std::to_string(rate),
                "-p", std::to_string(period)},
               log_path) {
  // The server is ready when it takes a client; each failed attempt returns within milliseconds.
  const auto give_up = std::chrono::steady_clock::now() + limit;
  std::string error;
  for (;;) {
    if (open_jack_client(name_, "meshbench-ready", &error)) return;
    if (!process_.running())
      throw BenchError(fmt::format("jackd {}: {} (see {})", name_, process_.stop(), log_path));
    if (std::chrono::steady_clock::now() > give_up)
      throw BenchError(fmt::format("jackd {} took no client within {} ms ({}; see {})", name_,
                                   limit.count(), error, log_path));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

} // namespace meshbench
