#include "security/passphrase.hpp"

#include "log/log.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sys/stat.h>

namespace midimesh::security {
namespace {

constexpr std::string_view component = "security";
// Below this, an attacker who recorded one handshake tries every passphrase of this length in
// days, even at Argon2's cost.
constexpr std::size_t short_passphrase = 12;

std::string read_first_line(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    throw SecretError(fmt::format("cannot read --secret-file {}: {}", file, std::strerror(errno)));
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty())
    throw SecretError(fmt::format("--secret-file {} starts with an empty line", file));
#ifndef _WIN32
  struct stat info {};
  if (::stat(file.c_str(), &info) == 0 && (info.st_mode & (S_IRWXG | S_IRWXO)))
    log::warn(component, "{} is readable by other users of this computer; chmod 600 it", file);
#endif
  return line;
}

} // namespace

std::optional<std::string> read_passphrase(const std::string& file) {
  std::string passphrase;
  if (!file.empty()) {
    passphrase = read_first_line(file);
  } else if (const char* value = std::getenv(secret_variable)) {
    passphrase = value;
    if (passphrase.empty())
      throw SecretError(
          fmt::format("{} is set but empty; unset it for an open mesh", secret_variable));
  } else {
    return std::nullopt;
  }
  if (passphrase.size() < short_passphrase)
    log::warn(component,
              "the passphrase has only {} characters: someone who records this network can "
              "guess it offline; four or five random words are safer",
              passphrase.size());
  return passphrase;
}

std::optional<MeshKeys> load_mesh_keys(const std::string& secret_file, std::string_view mesh) {
  auto passphrase = read_passphrase(secret_file);
  if (!passphrase) return std::nullopt;
  MeshKeys keys = derive_mesh_keys(*passphrase, mesh);
  std::fill(passphrase->begin(), passphrase->end(), '\0');
  return keys;
}

} // namespace midimesh::security
