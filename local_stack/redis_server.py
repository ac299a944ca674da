"""A private ``redis-server`` on a free 127.0.0.1 port, with an append-only file, that can be restarted in place.

The Celery broker of the scale-path tests and benchmarks: their own, never the machine's shared Redis (two runs
picking the same database index of a shared server would consume each other's tasks).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from local_stack.stack import free_port


class RedisServer:
    """``up()`` starts it (again, on the same port and files), ``down()`` stops it with SIGTERM (Redis then writes
    its append-only file); ``url`` is the broker URL."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.dir = directory
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def up(self, timeout: float = 30) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (Debian package redis-server)")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                                      "--appendonly", "yes", "--save", ""],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on 127.0.0.1:{self.port} did not start")
            time.sleep(0.1)

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis("127.0.0.1", self.port, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def down(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(30)
            self.proc = None

