"""Test servers' ports: each xdist worker's own, never one the kernel could hand out to a ``bind(port 0)``.

CI once saw a Flask 404 where a standalone Radicale was to answer: the port the kernel had handed out and
taken back for Radicale was handed out again to another worker's in-process server before Radicale bound it.
"""

from __future__ import annotations

import os
import socket

import pytest

from tests.support.processes import ephemeral_low, free_port, port_slice


def test_free_port_is_below_the_kernels_range_and_in_this_workers_slice() -> None:
    worker, workers = os.environ.get("PYTEST_XDIST_WORKER", ""), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    mine = port_slice(worker, workers, ephemeral_low())
    ports = [free_port() for _ in range(50)]
    assert all(port < ephemeral_low() and port in mine for port in ports)
    assert len(set(ports)) == 50


def test_the_kernels_choice_is_in_no_workers_slice() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        kernels = sock.getsockname()[1]
    assert all(kernels not in port_slice(f"gw{i}", 8, ephemeral_low()) for i in range(8))


def test_a_port_a_socket_holds_is_passed_over() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", free_port()))
        port = held.getsockname()[1]
        assert free_port(iter([port, port + 1])) == port + 1


def test_no_port_that_binds_is_an_error() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", free_port()))
        with pytest.raises(RuntimeError, match="no free loopback port"):
            free_port(iter([held.getsockname()[1]] * 3))


@pytest.mark.parametrize("workers", [1, 2, 3, 8])
def test_workers_slices_are_disjoint_and_below_the_kernels_range(workers: int) -> None:
    slices = [port_slice(f"gw{i}", workers, 32768) for i in range(workers)]
    ports = [port for ports in slices for port in ports]
    assert len(ports) == len(set(ports))
    assert min(ports) >= 10000 and max(ports) < 32768


def test_outside_xdist_the_whole_room_is_one_slice() -> None:
    assert port_slice("", 1, 32768) == range(10000, 32768)


def test_no_room_below_the_kernels_range_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="ephemeral port range starts at 10010"):
        port_slice("gw0", 1, 10010)
