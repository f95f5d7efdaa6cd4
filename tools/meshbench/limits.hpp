#pragma once
// How long every scenario waits: bounds, so a run that hits one reports losses instead of hanging.

#include <chrono>

namespace meshbench {

// Until every receiver has heard every sender (ZeroMQ connects and subscribes asynchronously).
inline constexpr auto probe_limit = std::chrono::milliseconds(5'000);
// After the last send: how long the receivers may go without progress before the rest counts as
// lost, and the longest wait in all.
inline constexpr auto quiet_limit = std::chrono::milliseconds(1'000);
inline constexpr auto drain_limit = std::chrono::milliseconds(5'000);

} // namespace meshbench
