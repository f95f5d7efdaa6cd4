#pragma once
// The one owner of a dns_sd operation (DNSServiceRef): deallocated when it goes, never copied.
// Every dns_sd call in midimesh creates one of these; nothing else holds a raw DNSServiceRef.

#include <dns_sd.h>
#include <utility>

namespace midimesh::discovery {

class ServiceRef {
public:
  ServiceRef() noexcept = default;
  ServiceRef(const ServiceRef&) = delete;
  ServiceRef& operator=(const ServiceRef&) = delete;
  ServiceRef(ServiceRef&& other) noexcept : ref_(std::exchange(other.ref_, nullptr)) {}
  ServiceRef& operator=(ServiceRef&& other) noexcept {
    if (this != &other) {
      reset();
      ref_ = std::exchange(other.ref_, nullptr);
    }
    return *this;
  }
  ~ServiceRef() { reset(); }

  // Runs a dns_sd call that creates an operation, e.g.
  //   ref.start(DNSServiceBrowse, 0, 0, type, nullptr, callback, context)
  // and takes ownership of it on success; returns the call's error code.
  template <typename Fn, typename... Args> DNSServiceErrorType start(Fn fn, Args&&... args) {
    reset();
    DNSServiceRef created = nullptr;
    const DNSServiceErrorType err = fn(&created, std::forward<Args>(args)...);
    if (err == kDNSServiceErr_NoError) ref_ = created;
    return err;
  }

  void reset() noexcept {
    if (ref_) DNSServiceRefDeallocate(std::exchange(ref_, nullptr));
  }

  DNSServiceRef get() const noexcept { return ref_; }
  explicit operator bool() const noexcept { return ref_ != nullptr; }
  // The fd that becomes readable when process() has results to deliver; -1 when empty.
  int fd() const noexcept { return ref_ ? DNSServiceRefSockFD(ref_) : -1; }
  // Delivers pending results to the callbacks. Blocks if none are pending: call it only when
  // fd() is readable.
  DNSServiceErrorType process() const noexcept { return DNSServiceProcessResult(ref_); }

private:
  DNSServiceRef ref_ = nullptr;
};

} // namespace midimesh::discovery
