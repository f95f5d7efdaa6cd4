#pragma once
// What the dns_sd backends share: which errors mean the daemon is gone, how an instance name is
// made to fit (and renamed after a conflict), and the Avahi workaround every dns_sd user needs.

#include <dns_sd.h>
#include <string>

namespace midimesh::discovery {

// Errors that mean the daemon is gone or unreachable: stop, and start again later.
bool daemon_gone(DNSServiceErrorType err) noexcept;

// A DNS label holds 63 bytes: the instance name is cut there, at a character boundary.
// attempt > 1 appends " #attempt", the way Avahi renames a service after a conflict.
std::string instance_name(const std::string& name, int attempt = 1);
inline constexpr int max_name_attempts = 50;

// Call before the first dns_sd call (see dns_sd_rules.cpp for why). Idempotent.
void zero_avahi_allocations();

} // namespace midimesh::discovery
