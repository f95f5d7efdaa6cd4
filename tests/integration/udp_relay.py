"""udp_relay: a lossy UDP relay in front of an AppleMIDI session, for the RTP-MIDI loss tests.

It listens on two adjacent ports of 127.0.0.1 (control P, data P + 1, P even) and forwards
between the one party that talks to it and the target session (control T, data T + 1), both
ways, through the same two sockets: the target sees the relay as the party, and the party the
relay as the target. Session packets (starting with FF FF) always pass; RTP packets are dropped
at random at `drop_rate` (a seeded generator: the same seed drops the same packets of the same
traffic), or one chosen packet is dropped on purpose (drop_next). A dropped packet is never
delivered later. The relay runs in a thread of the test and stops by itself after `lifetime`
seconds, or at stop().

    relay = UdpRelay(target_port=r_rtp_port, drop_rate=0.05, seed=1)
    ... node L: --rtp-midi-connect 127.0.0.1:{relay.port}
    relay.counts["to_target"]["dropped"]
"""

from __future__ import annotations

import random
import select
import socket
import threading
import time

DIRECTIONS = ("to_target", "to_party")


def is_session_packet(data: bytes) -> bool:
    return data[:2] == b"\xff\xff"


class UdpRelay:
    def __init__(self, target_port: int, *, drop_rate: float = 0.0, seed: int = 0,
                 target_host: str = "127.0.0.1", lifetime: float = 300.0):
        self.target = [(target_host, target_port), (target_host, target_port + 1)]
        self.drop_rate = drop_rate
        self.lifetime = lifetime
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._party: list[tuple[str, int] | None] = [None, None]  # learned per socket
        self._chosen: dict[str, tuple[bytes, threading.Event, list[bytes]]] = {}
        self.counts = {d: {"forwarded": 0, "dropped": 0, "session": 0} for d in DIRECTIONS}
        self.socks = self._bind_pair()
        self.port = self.socks[0].getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"udp-relay-{self.port}",
                                        daemon=True)
        self._thread.start()

    @staticmethod
    def _bind_pair() -> list[socket.socket]:
        for _ in range(200):
            control = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            control.bind(("127.0.0.1", 0))
            port = control.getsockname()[1]
            if port % 2 == 0 and port < 65534:
                data = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    data.bind(("127.0.0.1", port + 1))
                    return [control, data]
                except OSError:
                    data.close()
            control.close()
        raise OSError("udp_relay: no free pair of UDP ports (the first even) on 127.0.0.1")

    def __enter__(self) -> "UdpRelay":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for s in self.socks:
            s.close()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {d: dict(c) for d, c in self.counts.items()}

    def drop_next(self, direction: str, containing: bytes = b"") -> threading.Event:
        """Drop the next RTP packet going `direction` whose bytes contain `containing`, and
        never deliver it. The returned event is set once it was dropped; dropped_packet()
        then returns it."""
        if direction not in DIRECTIONS:
            raise ValueError(direction)
        done = threading.Event()
        with self._lock:
            self._chosen[direction] = (containing, done, [])
        return done

    def dropped_packet(self, direction: str) -> bytes | None:
        with self._lock:
            chosen = self._chosen.get(direction)
            return chosen[2][0] if chosen and chosen[2] else None

    def _decide(self, direction: str, data: bytes) -> bool:
        """True to forward. Called with the lock held."""
        counts = self.counts[direction]
        if is_session_packet(data):
            counts["session"] += 1
            return True
        chosen = self._chosen.get(direction)
        if chosen and not chosen[1].is_set() and chosen[0] in data:
            chosen[2].append(data)
            chosen[1].set()
            counts["dropped"] += 1
            return False
        if self.drop_rate and self._random.random() < self.drop_rate:
            counts["dropped"] += 1
            return False
        counts["forwarded"] += 1
        return True

    def _run(self) -> None:
        end = time.monotonic() + self.lifetime
        while not self._stop.is_set():
            left = end - time.monotonic()
            if left <= 0:
                break
            try:
                readable, _, _ = select.select(self.socks, [], [], min(left, 0.2))
            except (OSError, ValueError):
                break  # closed under us
            for i, sock in enumerate(self.socks):
                if sock not in readable:
                    continue
                try:
                    data, source = sock.recvfrom(65536)
                except OSError:
                    continue
                if source == self.target[i]:
                    direction, dest = "to_party", self._party[i]
                else:
                    self._party[i] = source  # the one party: whoever else talks to us
                    direction, dest = "to_target", self.target[i]
                with self._lock:
                    forward = self._decide(direction, data)
                if forward and dest is not None:
                    try:
                        sock.sendto(data, dest)
                    except OSError:
                        pass  # the other side is gone: as on a network, the packet is lost
