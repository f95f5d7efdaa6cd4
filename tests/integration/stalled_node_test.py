#!/usr/bin/env python3
"""A stalled node (SIGSTOP: it reads nothing) must not cost the other nodes a single message,
and must not make the hub's memory grow without bound; its own losses show in its log and
counters once it wakes up."""

import re
import time

import meshlab
from meshlab import Lab, fail, start_hub, start_node, stats
from wireclient import WireClient

PHASE = 100_000  # messages per flood phase
RATE = 40_000  # per second: a flood, paced so the sender's own queue never overflows


def flood(sender: WireClient, first: int, count: int) -> None:
    start = time.monotonic()
    for i in range(first, first + count):
        sender.send_midi(bytes([0xB0 | (i >> 14) & 0x0F, (i >> 7) & 0x7F, i & 0x7F]))
        if i % 1000 == 0:  # pace in steps of 1000
            ahead = (i - first) / RATE - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)


def test() -> None:
    with Lab() as lab:
        # The flood fills the stalled node's queue at 40,000 messages a second, eight times a
        # sender's budget (fair_hub_test holds senders to it): this test is about receivers.
        hub, port = start_hub(lab, extra=["--no-midi", "--sender-budget", "off"])
        fast = start_node(lab, "fast", port, ["--no-midi"])
        stalled = start_node(lab, "stalled", port, ["--no-midi"])
        sender = WireClient("127.0.0.1", port, "flooder")
        lab.at_close(sender.close)
        sender.join()
        for node in (fast, stalled):
            node.wait_for_line(r'peer "flooder" .* joined')

        stalled.stop()
        flood(sender, 0, PHASE)
        meshlab.wait_until(lambda: stats(fast)["midi_received"] >= PHASE, 30,
                           f"the fast node to receive {PHASE} messages")
        rss_after_one = hub.rss_kib()
        flood(sender, PHASE, PHASE)
        meshlab.wait_until(lambda: stats(fast)["midi_received"] >= 2 * PHASE, 30,
                           f"the fast node to receive {2 * PHASE} messages")
        rss_after_two = hub.rss_kib()

        fast_stats = stats(fast)
        if fast_stats["midi_received"] != 2 * PHASE or fast_stats["lost"] != 0:
            fail(f"the fast node lost messages while another node stalled: {fast_stats}")
        print(f"hub RSS after {PHASE} messages: {rss_after_one} KiB, "
              f"after {2 * PHASE}: {rss_after_two} KiB")
        # The stalled node's queue at the hub is capped (SNDHWM): once full, more traffic must
        # not make the hub grow.
        if rss_after_two > rss_after_one + 8 * 1024:
            fail(f"hub memory grows with a stalled node: {rss_after_one} -> {rss_after_two} KiB")
        if rss_after_two > 128 * 1024:
            fail(f"hub uses {rss_after_two} KiB with one stalled node")

        stalled.cont()
        # Losses show as a gap before the sender's next message (midimesh nodes send a hello
        # every 250 ms; this client sends only what it is told to): poke until it shows.
        def loss_reported() -> bool:
            sender.send_midi(bytes([0xF8]))
            return any(re.search(r'lost \d+ message\(s\) from "flooder"', l)
                       for l in stalled.lines())
        meshlab.wait_until(loss_reported, 30, "the stalled node to report its loss")
        stalled.wait_for_line(r'burst over: lost \d+ message\(s\) from "flooder"', 30)
        stalled_stats = stats(stalled)
        if stalled_stats["lost"] <= 0:
            fail(f"the stalled node reports no loss: {stalled_stats}")
        if stalled_stats["lost"] + stalled_stats["midi_received"] < 2 * PHASE:
            fail(f"lost + received does not account for every message: {stalled_stats}")
        print(f"stalled node: received {stalled_stats['midi_received']}, "
              f"lost {stalled_stats['lost']} (counted as sequence gaps)")


meshlab.main(test)
