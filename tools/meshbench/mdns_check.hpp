#pragma once
// Whether mDNS works here: the trials that find nodes by mDNS need a running avahi-daemon (or
// mDNSResponder), and meshbench never starts a system daemon itself (tools/with-avahi does).

#include <optional>
#include <string>

namespace meshbench {

// Why mDNS cannot be used here, or nullopt when a browse can be started.
std::optional<std::string> mdns_unavailable();

} // namespace meshbench
