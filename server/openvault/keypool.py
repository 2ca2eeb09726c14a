"""The dynamic-key pool: RSA key pairs generated ahead of the requests that need them.

Generating an RSA key takes from milliseconds (1024 bits) to many seconds
(8192 bits) and draws on the machine's entropy, so a creds request that had
to wait for one could stall. A background thread keeps a few keys ready per
key size in use; a request takes one at once and only generates its own when
the pool for that size is empty. Keys live in this process's memory only and
are handed out once.
"""

import logging
import os
import threading
import time

from cryptography.hazmat.primitives.asymmetric import rsa

logger = logging.getLogger(__name__)

PUBLIC_EXPONENT = 65537
# The thread yields the CPU to request threads; key generation is the work
# that can wait.
BACKGROUND_NICENESS = 10


def generate(bits):
    """Generate an RSA private key of `bits` bits."""
    return rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=bits)


class KeyPool:
    """Pre-generated RSA keys by size, refilled by a background thread."""

    def __init__(self, size):
        self.size = size
        self._keys = {}
        self._cond = threading.Condition()
        self._thread = None
        self._stopping = False

    def want(self, bits):
        """Keep keys of `bits` bits ready from now on."""
        with self._cond:
            if bits not in self._keys:
                self._keys[bits] = []
                self._cond.notify()

    def take(self, bits):
        """Return a fresh key of `bits` bits: from the pool, else generated now."""
        with self._cond:
            ready = self._keys.setdefault(bits, [])
            key = ready.pop() if ready else None
            self._cond.notify()
        if key is not None:
            logger.debug("dynamic key: %d-bit key taken from the pool", bits)
            return key
        started = time.monotonic()
        key = generate(bits)
        logger.debug(
            "dynamic key: pool empty, generated a %d-bit key in %.2fs",
            bits,
            time.monotonic() - started,
        )
        return key

    def ready(self, bits):
        """Return how many keys of `bits` bits are waiting."""
        with self._cond:
            return len(self._keys.get(bits, ()))

    def start(self, sizes=()):
        """Start the refill thread, keeping keys of `sizes` (and later ones) ready."""
        for bits in sizes:
            self.want(bits)
        if self.size <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name="dynamic-key-pool", daemon=True
        )
        self._thread.start()

    def stop(self):
        """Stop the refill thread; a key being generated is finished first."""
        with self._cond:
            self._stopping = True
            self._cond.notify()

    def _run(self):
        try:
            os.setpriority(
                os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS
            )
        except (AttributeError, OSError):
            pass
        while True:
            bits = self._next_size()
            if bits is None:
                return
            started = time.monotonic()
            try:
                key = generate(bits)
            except Exception:
                logger.exception(
                    "dynamic key pool: generating a %d-bit key failed", bits
                )
                time.sleep(1)
                continue
            with self._cond:
                self._keys[bits].append(key)
                count = len(self._keys[bits])
            logger.debug(
                "dynamic key pool: %d-bit keys ready: %d of %d (%.2fs)",
                bits,
                count,
                self.size,
                time.monotonic() - started,
            )

    def _next_size(self):
        """Wait until some size is short of keys; return it, smallest first."""
        with self._cond:
            while not self._stopping:
                short = [b for b, keys in self._keys.items() if len(keys) < self.size]
                if short:
                    return min(short)
                self._cond.wait()
            return None
