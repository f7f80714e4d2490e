"""The SQLite writers' queue: first come, first served, handed over on release, bounded by its timeout."""

from __future__ import annotations

import threading
import time

from caldav_bridge.store.write_queue import WriteQueue


def test_waiters_get_the_turn_in_the_order_they_asked() -> None:
    queue = WriteQueue()
    assert queue.acquire(timeout=1)
    order: list[int] = []
    threads = []

    def take_turn(n: int) -> None:
        queue.acquire(timeout=10)
        order.append(n)
        queue.release()

    for n in range(5):
        t = threading.Thread(target=take_turn, args=(n,))
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 5
        while queue.waiting < n + 1 and time.monotonic() < deadline:
            time.sleep(0.001)
    queue.release()
    for t in threads:
        t.join(timeout=10)
    assert order == [0, 1, 2, 3, 4]


def test_a_waiter_gives_up_after_its_timeout_and_leaves_the_queue() -> None:
    queue = WriteQueue()
    assert queue.acquire(timeout=1)
    began = time.monotonic()
    assert queue.acquire(timeout=0.05) is False
    assert 0.05 <= time.monotonic() - began < 2
    queue.release()
    assert queue.acquire(timeout=0.01)  # free again: the one that gave up did not keep a place
    queue.release()


def test_the_releaser_cannot_take_the_turn_back_from_a_waiter() -> None:
    """A writer writing again at once (a client's PUT after PUT) queues behind the one already waiting."""
    queue = WriteQueue()
    assert queue.acquire(timeout=1)
    got: list[str] = []

    def wait_for_the_turn() -> None:
        queue.acquire(timeout=10)
        got.append("waiter")
        queue.release()

    waiter = threading.Thread(target=wait_for_the_turn)
    waiter.start()
    deadline = time.monotonic() + 5
    while not queue.waiting and time.monotonic() < deadline:
        time.sleep(0.001)
    queue.release()
    assert queue.acquire(timeout=10)
    got.append("releaser")
    queue.release()
    waiter.join(timeout=10)
    assert got == ["waiter", "releaser"]
