"""The key pool in-process: keys ready ahead, handed out once, made on demand."""

from dynamic_support import wait_for
from openvault.keypool import KeyPool


def numbers(key):
    return key.public_key().public_numbers().n


def test_keypool_fills_and_refills_in_the_background():
    pool = KeyPool(2)
    pool.start([1024])
    try:
        wait_for(lambda: pool.ready(1024) == 2, message="two 1024-bit keys")

        taken = [pool.take(1024), pool.take(1024)]

        assert [key.key_size for key in taken] == [1024, 1024]
        wait_for(lambda: pool.ready(1024) == 2, message="the pool to refill")
        assert numbers(taken[0]) != numbers(taken[1])
    finally:
        pool.stop()
    assert pool._thread.join(10) is None and not pool._thread.is_alive()


def test_keypool_generates_on_demand_when_empty_or_off():
    pool = KeyPool(0)
    pool.start([1024])

    keys = [pool.take(1024) for _ in range(3)]

    assert pool._thread is None
    assert pool.ready(1024) == 0
    assert len({numbers(key) for key in keys}) == 3


def test_keypool_keeps_sizes_wanted_later():
    pool = KeyPool(1)
    pool.start()
    try:
        pool.want(1024)
        wait_for(lambda: pool.ready(1024) == 1, message="a 1024-bit key")
        assert pool.ready(2048) == 0
    finally:
        pool.stop()
