#include "discovery/advertisement.hpp"
#include "discovery/dns_sd_rules.hpp"
#include "discovery/service_ref.hpp"
#include "log/log.hpp"
#include "platform/sockets.hpp"

#include <cstdlib>

namespace midimesh::discovery {
namespace {

constexpr std::string_view component = "mdns";
constexpr std::uint64_t retry_interval_us = 2'000'000;

class DnsSdAdvertisement final : public Advertisement {
public:
  DnsSdAdvertisement(std::string type, std::string name, std::uint16_t port)
      : type_(std::move(type)), name_(std::move(name)), port_(port) {
#ifndef _WIN32 // Avahi's compatibility library only
    setenv("AVAHI_COMPAT_NOWARN", "1", 0);
#endif
    zero_avahi_allocations();
  }

  std::vector<int> fds() const override {
    if (!ref_) return {};
    return {ref_.fd()};
  }

  void process(std::uint64_t now_us) override {
    if (!ref_ && now_us >= retry_at_) start(now_us);
    if (!ref_) return;
    if (!platform::readable_now(ref_.fd())) return;
    const DNSServiceErrorType err = ref_.process();
    if (err != kDNSServiceErr_NoError && daemon_gone(err)) return lost(now_us, err);
    if (conflict_) { // the callback asked for another name; register it now, outside it
      conflict_ = false;
      ref_.reset();
      start(now_us);
    }
  }

  std::uint64_t next_wakeup_us() const override {
    return ref_ || given_up_ ? 0 : std::max<std::uint64_t>(retry_at_, 1);
  }

private:
  void start(std::uint64_t now_us) {
    for (;;) {
      const std::string name = instance_name(name_, attempt_);
      const DNSServiceErrorType err =
          ref_.start(DNSServiceRegister, 0, 0, name.c_str(), type_.c_str(), nullptr, nullptr,
                     htons(port_), 0, nullptr, registered, this);
      if (err == kDNSServiceErr_NoError) return;
      if (err == kDNSServiceErr_NameConflict && attempt_ < max_name_attempts) {
        ++attempt_;
        continue;
      }
      if (daemon_gone(err)) return lost(now_us, err);
      log::error(component,
                 "cannot announce {} \"{}\" (error {}); it can still be invited by "
                 "address",
                 type_, name, err);
      given_up_ = true;
      return;
    }
  }

  void lost(std::uint64_t now_us, DNSServiceErrorType err) {
    ref_.reset();
    retry_at_ = now_us + retry_interval_us;
    if (!down_logged_)
      log::warn(component,
                "cannot announce {} \"{}\": no mDNS daemon (error {}); trying again "
                "every 2 s. Macs and iPads can still invite this node by address",
                type_, name_, err);
    down_logged_ = true;
  }

  static void registered(DNSServiceRef, DNSServiceFlags, DNSServiceErrorType err, const char* name,
                         const char*, const char*, void* context) {
    auto* self = static_cast<DnsSdAdvertisement*>(context);
    if (err == kDNSServiceErr_NameConflict && self->attempt_ < max_name_attempts) {
      ++self->attempt_;
      self->conflict_ = true;
      return;
    }
    if (err != kDNSServiceErr_NoError) {
      if (!daemon_gone(err))
        log::warn(component, "announcing {} failed (error {})", self->type_, err);
      return;
    }
    self->down_logged_ = false;
    log::info(component, "announced {} \"{}\" on port {}", self->type_, name ? name : "",
              self->port_);
  }

  std::string type_, name_;
  std::uint16_t port_;
  ServiceRef ref_;
  int attempt_ = 1;
  std::uint64_t retry_at_ = 0;
  bool down_logged_ = false, given_up_ = false, conflict_ = false;
};

} // namespace

std::unique_ptr<Advertisement> make_dns_sd_advertisement(std::string type, std::string name,
                                                         std::uint16_t port) {
  return std::make_unique<DnsSdAdvertisement>(std::move(type), std::move(name), port);
}

} // namespace midimesh::discovery
