#include "discovery/dns_sd_rules.hpp"

#include <algorithm>
#include <cstdlib>

#ifdef MIDIMESH_AVAHI_COMPAT // set by meson.build when dns_sd is Avahi's
#include <avahi-common/malloc.h>
#include <mutex>
#endif

namespace midimesh::discovery {
namespace {
// Avahi's compatibility library reports every one of these as kDNSServiceErr_Unknown; Bonjour
// has its own codes, not in Avahi's header.
constexpr DNSServiceErrorType err_service_not_running = -65563;
constexpr DNSServiceErrorType err_defunct_connection = -65569;

#ifdef MIDIMESH_AVAHI_COMPAT
// Avahi's compatibility library (0.8, Debian 12) leaves the callback pointers of a new
// DNSServiceRef uninitialised, and when the daemon goes away it calls the first non-null one:
// for a DNSServiceResolve or DNSServiceQueryRecord that is garbage, and the program crashes
// (measured: SIGSEGV in libdns_sd on an avahi-daemon restart, every time under MALLOC_PERTURB_).
// Its allocations go through avahi_malloc(), which can be redirected: allocating zeroed memory
// makes those pointers null, and the right callback is called. Same libc heap underneath, so
// memory allocated before the switch is freed correctly after it.
void* zeroed_malloc(std::size_t size) {
  return std::calloc(1, size ? size : 1);
}
const AvahiAllocator zeroing_allocator = {zeroed_malloc, std::free, std::realloc, std::calloc};
#endif
} // namespace

void zero_avahi_allocations() {
#ifdef MIDIMESH_AVAHI_COMPAT
  static std::once_flag once;
  std::call_once(once, [] { avahi_set_allocator(&zeroing_allocator); });
#endif
}

bool daemon_gone(DNSServiceErrorType err) noexcept {
  return err == kDNSServiceErr_Unknown || err == err_service_not_running ||
         err == err_defunct_connection;
}

std::string instance_name(const std::string& name, int attempt) {
  const std::string suffix = attempt > 1 ? " #" + std::to_string(attempt) : "";
  const std::size_t max = 63 - suffix.size();
  std::size_t n = std::min<std::size_t>(name.size(), max);
  while (n > 0 && n < name.size() && (static_cast<unsigned char>(name[n]) & 0xC0) == 0x80)
    --n;
  return name.substr(0, n) + suffix;
}

} // namespace midimesh::discovery
