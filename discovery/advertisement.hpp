#pragma once
// One more service announced by mDNS beside the node's own: the node's RTP-MIDI session as
// `_apple-midi._udp`, so that a Mac's Audio MIDI Setup, an iPad app or Windows' rtpMIDI lists
// it. Announcing only: nothing is browsed. Driven by the program's event loop like Discovery.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace midimesh::discovery {

inline constexpr const char* apple_midi_service_type = "_apple-midi._udp";

class Advertisement {
public:
  virtual ~Advertisement() = default;
  virtual std::vector<int> fds() const = 0;
  // Handles what is readable and retries that are due (a missing daemon: every 2 s).
  virtual void process(std::uint64_t now_us) = 0;
  // 0: no retry pending; else when process() wants to run (on the now_us clock).
  virtual std::uint64_t next_wakeup_us() const = 0;
};

// Never throws: a missing daemon is logged once and retried in the background. A name taken
// by another service gets " #2", " #3", ... appended, as Avahi does.
std::unique_ptr<Advertisement> make_dns_sd_advertisement(std::string type, std::string name,
                                                         std::uint16_t port);

} // namespace midimesh::discovery
