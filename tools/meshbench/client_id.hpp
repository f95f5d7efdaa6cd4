#pragma once
// Node ids for the benchmark's clients. Each id is a valid protocol id (16 lowercase hex digits):
// a per-run nonce in the first half, the client's index in the second. A receiver learns who sent
// a message from the topic frame alone, without a map lookup on its hot path, and messages of
// anything else on the mesh (the hub's own hellos) are told apart by the nonce.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meshbench {

std::uint32_t make_run_nonce();
std::string client_id(std::uint32_t nonce, std::size_t index);
// The client index encoded in `topic`, or nullopt when it is not one of this run's ids.
std::optional<std::size_t> client_index(std::uint32_t nonce, std::string_view topic) noexcept;

} // namespace meshbench
