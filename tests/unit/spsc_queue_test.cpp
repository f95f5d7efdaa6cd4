#include "midi/spsc_queue.hpp"

#include <catch2/catch.hpp>
#include <thread>

using midimesh::midi::SpscQueue;

TEST_CASE("a full queue refuses, an empty one has nothing") {
  SpscQueue<int, 4> queue;
  int taken = -1;
  CHECK_FALSE(queue.try_pop([&](int& v) { taken = v; }));
  for (int i = 0; i < 4; ++i)
    CHECK(queue.try_push([&](int& slot) { slot = i; }));
  CHECK_FALSE(queue.try_push([](int&) { FAIL("fill called on a full queue"); }));
  CHECK(queue.try_pop([&](int& v) { taken = v; }));
  CHECK(taken == 0);
  CHECK(queue.try_push([](int& slot) { slot = 4; }));
  for (int expected = 1; expected <= 4; ++expected) {
    CHECK(queue.try_pop([&](int& v) { taken = v; }));
    CHECK(taken == expected);
  }
  CHECK_FALSE(queue.try_pop([&](int& v) { taken = v; }));
}

TEST_CASE("two threads hand over every item once and in order") {
  constexpr long items = 200000;
  SpscQueue<long, 64> queue;
  // Each side yields when it cannot go on, as the node's loop sleeps until woken: two threads
  // spinning on one core hand over a queueful per time slice (25 s for this test, a core shared).
  std::thread producer([&] {
    for (long i = 0; i < items;)
      if (queue.try_push([&](long& slot) { slot = i; }))
        ++i;
      else
        std::this_thread::yield();
  });
  long next = 0, out_of_order = 0;
  while (next < items)
    if (!queue.try_pop([&](long& v) { out_of_order += v != next++; })) std::this_thread::yield();
  producer.join();
  CHECK(out_of_order == 0);
}
