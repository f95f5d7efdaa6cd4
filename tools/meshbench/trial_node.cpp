#include "trial_node.hpp"

#include <csignal>

namespace meshbench {
namespace {

std::vector<std::string> command(const std::string& midimesh, const std::vector<std::string>& args,
                                 const std::string& port_name, const std::string& name) {
  std::vector<std::string> argv{midimesh};
  argv.insert(argv.end(), args.begin(), args.end());
  for (const char* a : {"--midi-api", "socket", "--port-name"})
    argv.emplace_back(a);
  argv.push_back(port_name);
  argv.emplace_back("--name");
  argv.push_back(name);
  return argv;
}

} // namespace

TrialNode::TrialNode(const std::string& midimesh, const std::vector<std::string>& args,
                     const std::string& dir, const std::string& name)
    : name_(name), port_name_(dir + "/" + name), log_path_(port_name_ + ".log"),
      process_(command(midimesh, args, port_name_, name), log_path_) {}

void TrialNode::signal(int signal) noexcept {
  // running() first: it also collects an exited child, after which pid() is no longer ours.
  if (process_.running() && process_.pid() > 0) ::kill(process_.pid(), signal);
}

} // namespace meshbench
