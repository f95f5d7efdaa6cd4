// run_jack_scenarios when libjack was not found at build time: the run says so and goes on.

#include "jack_scenarios.hpp"

#include <cstdio>

namespace meshbench {

JackRun run_jack_scenarios(const JackPlan&) {
  std::printf("end to end through JACK: skipped, meshbench was built without libjack\n");
  return {"meshbench was built without libjack", {}};
}

} // namespace meshbench
