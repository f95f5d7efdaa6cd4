#pragma once
// Where a mesh's passphrase comes from: a file (--secret-file) or the environment
// (MIDIMESH_SECRET), never a command-line value, which every user of the machine can read in
// the process list.

#include "security/mesh_keys.hpp"

#include <optional>
#include <string>

namespace midimesh::security {

inline constexpr const char* secret_variable = "MIDIMESH_SECRET";

// The passphrase: the first line of `file` when given (without its line ending), else the
// value of MIDIMESH_SECRET; nullopt when neither is set (an open mesh). Throws SecretError when
// the file cannot be read or the passphrase is empty. Warns (one line) when the file is readable
// by other users or the passphrase is short enough to guess.
std::optional<std::string> read_passphrase(const std::string& file);

// read_passphrase() and derive_mesh_keys() in one: nullopt for an open mesh.
std::optional<MeshKeys> load_mesh_keys(const std::string& secret_file, std::string_view mesh);

} // namespace midimesh::security
