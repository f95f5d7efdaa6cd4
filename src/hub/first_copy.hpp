#pragma once
// Which messages the hub forwards when nodes send each one over several connections (PROTOCOL.md
// section 1, "Several connections"): the first copy of each, by the sender's sequence number,
// under the same trust in a sender's numbering as every receiver's (wire/sequence_line). Each
// connection delivers a sender's messages in order, so the first copies come in order too, and a
// connection stalled by a lost TCP segment delays nothing the other one has brought. A client
// with one connection sends no copies: everything of it passes.
// Pure code: time comes in as an argument.

#include "wire/sequence_line.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>

namespace midimesh::hub {

class FirstCopy {
public:
  struct Limits {
    // Senders followed at once: anyone may send under new ids; beyond this, a new sender's
    // messages all pass (receivers drop the copies themselves).
    std::size_t max_senders = 4'096;
    // A sender silent this long is forgotten; its next message starts its line afresh.
    std::uint64_t forget_us = 10'000'000;
  };
  FirstCopy() = default;
  explicit FirstCopy(Limits limits) : limits_(limits) {}

  // True: forward the message (a first copy, or a message of no main sequence); false: a copy of
  // one forwarded already (or a repeat within the window, as a receiver would ignore it).
  bool admit(std::string_view sender, std::uint8_t type, std::uint64_t seq, std::uint64_t now_us);
  // The same for a frame check_message() has let through; a frame that does not parse passes.
  bool admit(std::span<const std::uint8_t> envelope, std::uint64_t now_us);

  std::size_t senders() const noexcept { return lines_.size(); }
  std::uint64_t untracked() const noexcept { return untracked_; } // passed: table full

private:
  struct Sender {
    wire::SequenceLine numbering;
    std::uint64_t last_us = 0;
  };
  void forget_silent(std::uint64_t now_us);

  Limits limits_;
  wire::SequenceRule rule_;
  std::map<std::string, Sender, std::less<>> lines_;
  std::uint64_t next_sweep_us_ = 0;
  std::uint64_t untracked_ = 0;
};

} // namespace midimesh::hub
