// The dns_sd backend: registers this node's `_midimesh._tcp` service, browses for the others,
// resolves each (host, port, TXT) and follows its TXT and A/AAAA records, all through the
// program's own event loop (fds() and process()); the library's own threads, if any, stay
// inside it.
//
// One found service is one (instance name, domain, interface): the same node is found once per
// interface it is reachable on. They are merged by node id (from TXT) into one SeenNode whose
// addresses are the union; node_gone comes when the last interface's service is removed.
//
// The daemon (avahi-daemon on Linux, mDNSResponder elsewhere) may be missing at start or go
// away later: then every operation is dropped, one line says what to do, and everything is
// started again every 2 s until it works. Nodes reported before are not reported gone when the
// daemon goes: mDNS never says who is alive (the mesh's heartbeats do), and once the daemon is
// back they are reported seen again.

#include "discovery/discovery.hpp"
#include "discovery/dns_sd_rules.hpp"
#include "discovery/service_ref.hpp"
#include "discovery/txt_record.hpp"
#include "log/log.hpp"
#include "platform/sockets.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <tuple>

namespace midimesh::discovery {
namespace {

constexpr std::string_view component = "mdns";
constexpr std::uint64_t retry_interval_us = 2'000'000;

std::string address_text(std::uint16_t rrtype, const void* rdata, std::uint16_t rdlen,
                         std::uint32_t ifindex) {
  char text[INET6_ADDRSTRLEN] = {};
  if (rrtype == kDNSServiceType_A && rdlen == 4) {
    if (inet_ntop(AF_INET, rdata, text, sizeof text)) return text;
  } else if (rrtype == kDNSServiceType_AAAA && rdlen == 16) {
    if (!inet_ntop(AF_INET6, rdata, text, sizeof text)) return {};
    std::string out = text;
    const auto* b = static_cast<const unsigned char*>(rdata);
    char ifname[IF_NAMESIZE] = {};
    // A link-local address means nothing without its interface.
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80 && if_indextoname(ifindex, ifname))
      out += std::string("%") + ifname;
    return out;
  }
  return {};
}

class DnsSdDiscovery;

// One service found by the browse on one interface.
struct Instance {
  DnsSdDiscovery* owner = nullptr;
  std::string name, domain;
  std::uint32_t ifindex = 0;
  ServiceRef resolve, txt_query, a_query, aaaa_query;
  std::string fullname, host;
  std::optional<NodeRecord> record; // set while its TXT is valid and of our mesh
  std::string id;                   // node id of `record`
  std::set<std::string> addresses;
  std::uint64_t updated = 0; // sequence number of the last TXT change, the newest record wins
  bool removed = false;      // browse said it is gone; freed after the current dispatch
  bool own = false;          // this node's own service

  std::string label() const {
    return "\"" + name + "\" (interface " + std::to_string(ifindex) + ")";
  }
};

class DnsSdDiscovery final : public Discovery {
public:
  DnsSdDiscovery(Listener& listener, std::string mesh, std::uint16_t base_port,
                 const security::MeshKeys* keys)
      : listener_(listener), mesh_(std::move(mesh)), base_port_(base_port),
        keys_(keys ? std::optional<security::MeshKeys>(*keys) : std::nullopt) {
    // Avahi's compatibility library prints a warning about itself to stderr on first use
    // unless this is set; it says nothing the user can act on.
#ifndef _WIN32 // Avahi's compatibility library only
    setenv("AVAHI_COMPAT_NOWARN", "1", 0);
#endif
    zero_avahi_allocations();
  }

  ~DnsSdDiscovery() override {
    stop();
  }

  void announce(const NodeRecord& asked) override {
    // Each change gets the next revision: receivers keep the highest (Avahi may hand out a
    // replaced record after the new one).
    NodeRecord next = asked;
    next.revision = self_ ? self_->revision : 0;
    if (!self_ || !(next == *self_)) next.revision = ++revision_;
    self_ = next;
    const NodeRecord& self = *self_;
    if (!running_) return; // start() registers it
    if (!registration_) {
      register_service();
      return;
    }
    if (instance_name(self.name) != instance_name(registered_.name) ||
        srv_port_for(self) != srv_port_for(registered_)) {
      name_attempt_ = 1;
      register_service();
      return;
    }
    if (encode_txt(self) == encode_txt(registered_)) return;
    const std::string txt = txt_to_wire(sealed(encode_txt(self)));
    const DNSServiceErrorType err = DNSServiceUpdateRecord(
        registration_.get(), nullptr, 0, static_cast<std::uint16_t>(txt.size()), txt.data(), 0);
    if (err == kDNSServiceErr_NoError) {
      registered_ = self;
      log::debug(component, "TXT record updated: role {}, hub {}, term {}", self.role,
                 self.hub_id.empty() ? "none" : self.hub_id, self.term);
    } else {
      log::debug(component, "updating the TXT record failed (error {}): registering again", err);
      register_service();
    }
  }

  std::vector<int> fds() const override {
    std::vector<int> out;
    for_each_ref([&](const ServiceRef& r) { out.push_back(r.fd()); });
    return out;
  }

  // Polls its own fds with a zero timeout and processes the readable ones, so the caller may
  // call it whenever it likes: on any readable fd of fds(), at next_wakeup_us(), or both.
  void process(std::uint64_t now_us) override {
    now_ = now_us;
    if (!running_ && now_us >= retry_at_) start();
    if (!running_) return;

    std::vector<DNSServiceRef> ready;
    for_each_ref([&](const ServiceRef& r) {
      if (platform::readable_now(r.fd())) ready.push_back(r.get());
    });
    if (ready.empty()) return;
    dispatching_ = true;
    for (std::size_t i = 0; i < ready.size() && !lost_; ++i) {
      // A callback may have ended this operation (a resolve that finished, a service removed):
      // its ref then waits in retired_ until the loop ends, so the pointer stays valid.
      const DNSServiceErrorType err = DNSServiceProcessResult(ready[i]);
      if (err != kDNSServiceErr_NoError && daemon_gone(err)) lost(err);
    }
    dispatching_ = false;
    retired_.clear();
    removed_.clear();
    if (lost_) {
      lost_ = false;
      stop();
      start(); // at once: after a daemon restart it is usually back already
    }
  }

  std::uint64_t next_wakeup_us() const override {
    return running_ ? 0 : std::max<std::uint64_t>(retry_at_, 1);
  }

  std::string describe() const override {
    if (!running_) return "mDNS: waiting for avahi-daemon (trying again every 2 s)";
    return "mDNS: browsing " + std::string(service_type) + " in mesh \"" + mesh_ + "\"" +
           (!registered_name_.empty() ? ", announced as \"" + registered_name_ + "\"" : "") + ", " +
           std::to_string(reported_.size()) + " node(s) seen";
  }

  // --- callbacks, through the static trampolines below -----------------------------------

  void on_registered(DNSServiceErrorType err, const char* name) {
    if (lost_) return;
    if (err == kDNSServiceErr_NameConflict && !registered_.name.empty() &&
        name_attempt_ < max_name_attempts) {
      // Bonjour renames by itself; Avahi's library does so only for a conflict with another
      // host, not with another program on this one. So do it here, as Avahi would.
      ++name_attempt_;
      register_service();
      return;
    }
    if (err != kDNSServiceErr_NoError) {
      if (daemon_gone(err)) return lost(err);
      log::error(component,
                 "registering \"{}\" failed (error {}): others will not find this "
                 "node by mDNS; they can still --connect to it",
                 registered_.name, err);
      retire(registration_);
      return;
    }
    const std::string chosen = name ? name : "";
    const std::string asked = instance_name(registered_.name);
    if (chosen == registered_name_) return; // a repeated confirmation
    if (!asked.empty() && chosen != asked)
      log::info(component, "the name \"{}\" is taken on this network: announced as \"{}\"", asked,
                chosen);
    else
      log::info(component, "announced \"{}\" in mesh \"{}\" as {}", chosen, registered_.mesh,
                registered_.role);
    registered_name_ = chosen;
  }

  void on_browse(DNSServiceFlags flags, std::uint32_t ifindex, DNSServiceErrorType err,
                 const char* name, const char* domain) {
    if (lost_) return;
    if (err != kDNSServiceErr_NoError)
      return lost(err); // a browse has nothing else to fail on: start over
    const auto key = std::make_tuple(std::string(name), std::string(domain), ifindex);
    auto it = instances_.find(key);
    if (flags & kDNSServiceFlagsAdd) {
      if (it != instances_.end()) return;
      auto inst = std::make_unique<Instance>();
      inst->owner = this;
      inst->name = name;
      inst->domain = domain;
      inst->ifindex = ifindex;
      Instance* raw = inst.get();
      instances_.emplace(key, std::move(inst));
      const DNSServiceErrorType e = raw->resolve.start(DNSServiceResolve, 0, ifindex, name,
                                                       service_type, domain, resolve_reply, raw);
      if (e != kDNSServiceErr_NoError) {
        if (daemon_gone(e)) return lost(e);
        log::warn(component, "cannot resolve {} (error {}): ignoring it", raw->label(), e);
      }
      return;
    }
    if (it == instances_.end()) return;
    std::unique_ptr<Instance> inst = std::move(it->second);
    instances_.erase(it);
    inst->removed = true;
    const std::string id = inst->record ? inst->id : std::string();
    removed_.push_back(std::move(inst)); // its refs may be in the current dispatch
    if (!id.empty()) refresh(id);
  }

  void on_resolved(Instance& inst, DNSServiceErrorType err, const char* fullname, const char* host,
                   std::uint16_t txt_len, const unsigned char* txt) {
    if (lost_ || inst.removed) return;
    retire(inst.resolve); // one answer is all we need: TXT and addresses are followed below
    if (err != kDNSServiceErr_NoError) {
      if (daemon_gone(err)) return lost(err);
      log::debug(component, "resolving {} failed (error {})", inst.label(), err);
      return;
    }
    inst.fullname = fullname;
    inst.host = host;
    apply_txt(inst, txt_from_wire(txt, txt_len));
    if (inst.own) return;
    // Follow the TXT record, which changes with the node's role, hub and term.
    const DNSServiceErrorType e =
        inst.txt_query.start(DNSServiceQueryRecord, 0, inst.ifindex, fullname, kDNSServiceType_TXT,
                             kDNSServiceClass_IN, record_reply, &inst);
    if (e != kDNSServiceErr_NoError && daemon_gone(e)) return lost(e);
  }

  void on_record(Instance& inst, DNSServiceFlags flags, DNSServiceErrorType err,
                 std::uint16_t rrtype, std::uint16_t rdlen, const void* rdata) {
    if (lost_ || inst.removed) return;
    if (err != kDNSServiceErr_NoError) {
      if (daemon_gone(err)) return lost(err);
      log::debug(component, "query for {} failed (error {})", inst.label(), err);
      return;
    }
    if (rrtype == kDNSServiceType_TXT) {
      // A changed TXT arrives as the new record added and the old one removed, in either
      // order: the last one added is the current one.
      if (flags & kDNSServiceFlagsAdd) apply_txt(inst, txt_from_wire(rdata, rdlen));
      return;
    }
    const std::string address = address_text(rrtype, rdata, rdlen, inst.ifindex);
    if (address.empty()) return;
    const bool changed = (flags & kDNSServiceFlagsAdd) ? inst.addresses.insert(address).second
                                                       : inst.addresses.erase(address) > 0;
    if (changed && inst.record) refresh(inst.id);
  }

private:
  // Every live DNSServiceRef: each has an fd of its own (Avahi's compatibility library cannot
  // share one connection).
  template <typename F> void for_each_ref(F&& f) const {
    for (const ServiceRef* r : {&browse_, &registration_})
      if (*r) f(*r);
    for (const auto& [key, inst] : instances_)
      for (const ServiceRef* r :
           {&inst->resolve, &inst->txt_query, &inst->a_query, &inst->aaaa_query})
        if (*r) f(*r);
  }

  std::uint16_t srv_port_for(const NodeRecord& r) const {
    // An SRV port of 0 means "not available" to Bonjour, which then hides the service: a node
    // that is not hub announces the base port its hub would use. TXT `port` says which it is.
    if (r.port != 0) return r.port;
    return base_port_ != 0 ? base_port_ : 9;
  }

  void start() {
    retry_at_ = now_ + retry_interval_us;
    const DNSServiceErrorType err =
        browse_.start(DNSServiceBrowse, 0, 0, service_type, "local.", browse_reply, this);
    if (err != kDNSServiceErr_NoError) {
      down(err);
      return;
    }
    running_ = true;
    if (self_ && !register_service()) return;
    if (down_logged_)
      log::info(component,
                "avahi-daemon answers again: discovery works again, browsing {} in "
                "mesh \"{}\"",
                service_type, mesh_);
    else
      log::info(component, "browsing {} in mesh \"{}\"", service_type, mesh_);
    down_logged_ = false;
  }

  // Returns false when the daemon is gone (everything is stopped then).
  bool register_service() {
    retire(registration_); // announce() may come from a listener, inside a dispatch
    registered_ = *self_;
    registered_name_.clear();
    const std::string txt = txt_to_wire(sealed(encode_txt(registered_)));
    const std::uint16_t port = htons(srv_port_for(registered_));
    std::string name;
    DNSServiceErrorType err;
    for (;;) {
      name = instance_name(registered_.name, name_attempt_);
      err = registration_.start(
          DNSServiceRegister, 0, 0, name.empty() ? nullptr : name.c_str(), service_type, nullptr,
          nullptr, port, static_cast<std::uint16_t>(txt.size()), txt.data(), register_reply, this);
      // Avahi reports a conflict with another program on this host here, at once.
      if (err != kDNSServiceErr_NameConflict || name.empty() || name_attempt_ >= max_name_attempts)
        break;
      ++name_attempt_;
    }
    if (err == kDNSServiceErr_NoError) return true;
    if (daemon_gone(err)) {
      stop();
      down(err);
      return false;
    }
    log::error(component,
               "cannot announce \"{}\" (error {}): others will not find this node "
               "by mDNS; they can still --connect to it",
               name, err);
    return true;
  }

  void down(DNSServiceErrorType err) {
    running_ = false;
    browse_.reset();
    if (!down_logged_)
      log::warn(component,
                "avahi-daemon is not running (dns_sd error {}): start it (systemctl "
                "start avahi-daemon) or join a hub directly with --connect HOST; "
                "trying again every 2 s",
                err);
    down_logged_ = true;
  }

  // The daemon went away under a running operation: stop everything once the dispatch is over.
  void lost(DNSServiceErrorType err) {
    if (lost_) return;
    lost_ = true;
    log::warn(component,
              "lost the connection to avahi-daemon (dns_sd error {}): starting "
              "discovery again",
              err);
    if (!dispatching_) {
      lost_ = false;
      stop();
      start();
    }
  }

  void stop() {
    running_ = false;
    instances_.clear();
    registration_.reset();
    browse_.reset();
    registered_name_.clear();
    // Not reported gone: the daemon's absence says nothing about them. Forgotten here, they are
    // reported seen again once the daemon is back.
    reported_.clear();
  }

  void retire(ServiceRef& ref) {
    if (dispatching_)
      retired_.push_back(std::move(ref));
    else
      ref.reset();
  }

  void apply_txt(Instance& inst, const std::vector<std::string>& entries) {
    const TxtDecode d = decode_txt(entries);
    log::debug(component, "{}: TXT says id {}, role {}, hub {}, term {}, revision {}", inst.label(),
               d.record.id, d.record.role, d.record.hub_id, d.record.term, d.record.revision);
    if (inst.record && d.ok() && d.record.id == inst.id &&
        d.record.revision < inst.record->revision) {
      log::debug(component, "{}: TXT revision {} is older than {}: ignored", inst.label(),
                 d.record.revision, inst.record->revision);
      return;
    }
    const std::string old_id = inst.record ? inst.id : std::string();
    std::optional<NodeRecord> record;
    if (self_ && !d.record.id.empty() && d.record.id == self_->id) {
      inst.own = true; // our own service: nothing to report, nothing to follow
    } else if (!d.ok()) {
      ignore(inst, d.record.id, "its TXT record is not one this build reads: " + d.problem);
    } else if (d.record.mesh != mesh_) {
      ignore(inst, d.record.id,
             "it is in mesh \"" + d.record.mesh + "\", this node in mesh \"" + mesh_ + "\"");
    } else if (const Seal seal = check_seal(entries, keys_ ? &*keys_ : nullptr);
               seal == Seal::invalid && keys_) {
      ignore(inst, d.record.id,
             "mesh \"" + mesh_ +
                 "\" is secured and your passphrase does not match this "
                 "node's (its record is sealed with another passphrase)",
             true);
    } else if (seal == Seal::invalid) {
      ignore(inst, d.record.id,
             "mesh \"" + mesh_ +
                 "\" is secured: start midimesh with --secret-file FILE or "
                 "MIDIMESH_SECRET set to its passphrase to join it",
             true);
    } else if (seal == Seal::none && keys_) {
      ignore(inst, d.record.id,
             "its record is not sealed: it runs an open mesh of this name, and this node's "
             "mesh is secured");
    } else {
      record = d.record;
    }
    inst.record = record;
    inst.id = record ? record->id : std::string();
    inst.updated = ++sequence_;
    if (record && !inst.a_query) {
      // Addresses only for nodes we report. A and AAAA: GetAddrInfo is missing from Avahi's
      // compatibility library.
      for (auto [ref, type] : {std::pair{&inst.a_query, kDNSServiceType_A},
                               std::pair{&inst.aaaa_query, kDNSServiceType_AAAA}}) {
        const DNSServiceErrorType e =
            ref->start(DNSServiceQueryRecord, 0, inst.ifindex, inst.host.c_str(), type,
                       kDNSServiceClass_IN, record_reply, &inst);
        if (e != kDNSServiceErr_NoError && daemon_gone(e)) return lost(e);
      }
    }
    if (!old_id.empty() && old_id != inst.id) refresh(old_id);
    if (!inst.id.empty()) refresh(inst.id);
  }

  void ignore(const Instance& inst, const std::string& id, const std::string& why,
              bool error = false) {
    const std::string key = id.empty() ? "name:" + inst.name : id;
    if (!ignored_.insert(key).second) return;
    const std::string line = fmt::format("ignoring node \"{}\"{} at {}: {}", inst.name,
                                         id.empty() ? "" : " (" + id + ")", inst.host, why);
    if (error)
      log::error(component, "{}", line);
    else
      log::info(component, "{}", line);
  }

  std::vector<std::string> sealed(std::vector<std::string> entries) const {
    return keys_ ? seal_txt(std::move(entries), *keys_) : entries;
  }

  // Reports node `id` as it now stands over all its interfaces: seen if it changed, gone if no
  // interface has it any more.
  void refresh(const std::string& id) {
    const Instance* newest = nullptr;
    std::set<std::string> addresses;
    for (const auto& [key, inst] : instances_) {
      if (!inst->record || inst->id != id) continue;
      addresses.insert(inst->addresses.begin(), inst->addresses.end());
      // The highest revision (one per interface may lag), then the last received.
      if (!newest || inst->record->revision > newest->record->revision ||
          (inst->record->revision == newest->record->revision && inst->updated > newest->updated))
        newest = inst.get();
    }
    auto it = reported_.find(id);
    if (!newest) {
      if (it != reported_.end()) {
        reported_.erase(it);
        listener_.node_gone(id);
      }
      return;
    }
    if (addresses.empty()) return; // not reachable yet: report once an address is known
    SeenNode node{*newest->record, newest->host, {addresses.begin(), addresses.end()}};
    if (it != reported_.end() && it->second.record == node.record && it->second.host == node.host &&
        it->second.addresses == node.addresses)
      return;
    reported_[id] = node;
    listener_.node_seen(node);
  }

  static void DNSSD_API register_reply(DNSServiceRef, DNSServiceFlags, DNSServiceErrorType err,
                                       const char* name, const char*, const char*, void* ctx) {
    static_cast<DnsSdDiscovery*>(ctx)->on_registered(err, name);
  }
  static void DNSSD_API browse_reply(DNSServiceRef, DNSServiceFlags flags, std::uint32_t ifindex,
                                     DNSServiceErrorType err, const char* name, const char*,
                                     const char* domain, void* ctx) {
    static_cast<DnsSdDiscovery*>(ctx)->on_browse(flags, ifindex, err, name, domain);
  }
  static void DNSSD_API resolve_reply(DNSServiceRef, DNSServiceFlags, std::uint32_t,
                                      DNSServiceErrorType err, const char* fullname,
                                      const char* host, std::uint16_t, std::uint16_t txt_len,
                                      const unsigned char* txt, void* ctx) {
    auto* inst = static_cast<Instance*>(ctx);
    inst->owner->on_resolved(*inst, err, fullname, host, txt_len, txt);
  }
  static void DNSSD_API record_reply(DNSServiceRef, DNSServiceFlags flags, std::uint32_t,
                                     DNSServiceErrorType err, const char*, std::uint16_t rrtype,
                                     std::uint16_t, std::uint16_t rdlen, const void* rdata,
                                     std::uint32_t, void* ctx) {
    auto* inst = static_cast<Instance*>(ctx);
    inst->owner->on_record(*inst, flags, err, rrtype, rdlen, rdata);
  }

  Listener& listener_;
  const std::string mesh_;
  const std::uint16_t base_port_;
  const std::optional<security::MeshKeys> keys_; // a secured mesh's: records are sealed
  std::optional<NodeRecord> self_;               // what announce() asked for, with its revision
  std::uint64_t revision_ = 0;                   // of the last change announced
  NodeRecord registered_;                        // what the registration carries
  std::string registered_name_;                  // the instance name the daemon confirmed
  ServiceRef browse_, registration_;
  std::map<std::tuple<std::string, std::string, std::uint32_t>, std::unique_ptr<Instance>>
      instances_;
  std::map<std::string, SeenNode> reported_; // by node id
  std::set<std::string> ignored_;            // logged once each
  std::vector<ServiceRef> retired_;          // ended during a dispatch, freed after it
  std::vector<std::unique_ptr<Instance>> removed_;
  std::uint64_t now_ = 0, retry_at_ = 0, sequence_ = 0;
  int name_attempt_ = 1; // > 1 after name conflicts
  bool running_ = false, down_logged_ = false, dispatching_ = false, lost_ = false;
};

} // namespace

std::unique_ptr<Discovery> make_dns_sd_discovery(Listener& listener, const std::string& mesh,
                                                 std::uint16_t base_port,
                                                 const security::MeshKeys* keys) {
  return std::make_unique<DnsSdDiscovery>(listener, mesh, base_port, keys);
}

} // namespace midimesh::discovery
