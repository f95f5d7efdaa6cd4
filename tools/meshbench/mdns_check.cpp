#include "mdns_check.hpp"

#include "midimesh_config.h"

#ifdef MIDIMESH_HAVE_DNS_SD
#include "discovery/service_ref.hpp"

#include <cstdlib>
#include <fmt/format.h>
#endif

namespace meshbench {

std::optional<std::string> mdns_unavailable() {
#ifdef MIDIMESH_HAVE_DNS_SD
  // A browse needs the daemon (Avahi's dns_sd reaches it over D-Bus at once); registering or
  // resolving would need nothing more. Nothing is browsed: the operation ends here.
  ::setenv("AVAHI_COMPAT_NOWARN", "1", 0); // the nodes started later inherit it too
  midimesh::discovery::ServiceRef browse;
  const DNSServiceErrorType err = browse.start(
      DNSServiceBrowse, 0, 0, "_midimesh._tcp", nullptr,
      [](DNSServiceRef, DNSServiceFlags, std::uint32_t, DNSServiceErrorType, const char*,
         const char*, const char*, void*) {},
      nullptr);
  if (err == kDNSServiceErr_NoError) return std::nullopt;
  return fmt::format("no avahi-daemon (start one, or run under tools/with-avahi) [dns_sd error {}]",
                     err);
#else
  return std::string("this build has no dns_sd (avahi-compat-libdns_sd): mDNS cannot be used");
#endif
}

} // namespace meshbench
