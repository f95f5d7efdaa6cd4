#pragma once
// What --version says, for midimesh and meshtop alike. Needs revision_h (meson.build) among the
// sources of whatever includes it.

#include "midimesh_config.h"
#include "midimesh_revision.h"

#include <string>

namespace midimesh::cli {

// "midimesh 0.1.0 (git 1a2b3c4d5e)": the version, and the commit when built from git.
inline std::string version_line(const std::string& program) {
  const std::string revision = MIDIMESH_REVISION;
  return program + " " + MIDIMESH_VERSION + (revision.empty() ? "" : " (git " + revision + ")");
}

} // namespace midimesh::cli
