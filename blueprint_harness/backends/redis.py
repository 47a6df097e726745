"""Redis: what the production shape keeps out of process memory, one server per session.

With several API processes and the services apart, whatever Prefect keeps in memory by
default must be shared: the event broker and its cache, causal ordering, concurrency
lease storage, the worker clean-up queue (prefect-redis provides each) and the docket
that schedules the services' work. Each stack gets a Redis database number of its own,
so stacks sharing the server never read each other's streams.

The server is Debian's `redis-server`, on a free loopback port, with a password, and
with an append-only file (as a production Redis keeps one): restarted, it comes back
with the streams and consumer groups it had.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import redis

from blueprint_harness.backends.base import BackendUnavailable, Provider, ProvisionContext
from blueprint_harness.process import janitor
from blueprint_harness.process.managed import (
    ManagedProcess,
    ProcessHost,
    ProcessSpec,
    managed_process,
)
from blueprint_harness.process.ports import LOOPBACK, free_port
from blueprint_harness.process.readiness import Probe

INSTALL_HINT = "install Debian's Redis: sudo apt-get install redis-server"
DATABASES = 64  # one per stack of a session

# Each server setting that is in memory by default, and the prefect-redis module for it.
REDIS_MODULES: Mapping[str, str] = {
    "PREFECT_SERVER_EVENTS_MESSAGING_BROKER": "prefect_redis.messaging",
    "PREFECT_SERVER_EVENTS_MESSAGING_CACHE": "prefect_redis.messaging",
    "PREFECT_SERVER_EVENTS_CAUSAL_ORDERING": "prefect_redis.ordering",
    "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect_redis.lease_storage",
    "PREFECT_SERVER_WORKER_CHANNEL_CLEANUP_QUEUE_STORAGE": "prefect_redis.cleanup_queue",
}
# And where each reaches Redis (they default to localhost:6379 otherwise).
REDIS_URLS = (
    "PREFECT_REDIS_MESSAGING_URL",
    "PREFECT_REDIS_WORKER_CLEANUP_QUEUE_URL",
    "PREFECT_SERVER_DOCKET_URL",
)

# Run with a stack's environment: every server setting (and prefect-redis connection) whose
# value still says "in memory", or still points at the default localhost:6379.
IN_MEMORY_PROBE = """
import json
from pydantic import BaseModel
from prefect.settings import get_current_settings
from prefect_redis.client import RedisMessagingSettings
from prefect_redis.cleanup_queue import RedisWorkerCleanupQueueSettings

def walk(path, model):
    for name, value in model:
        where = f"{path}.{name}"
        if isinstance(value, BaseModel):
            yield from walk(where, value)
        elif isinstance(value, str) and (value.endswith(".memory") or "memory://" in value):
            yield where, value

found = dict(walk("server", get_current_settings().server))
for where, settings in (("redis.messaging", RedisMessagingSettings()),
                        ("redis.worker_cleanup_queue", RedisWorkerCleanupQueueSettings())):
    if not settings.url:
        found[f"{where}.url"] = f"unset (defaults to {settings.host}:{settings.port})"
print(json.dumps(found))
"""


@dataclass(frozen=True)
class RedisServer:
    """A running Redis server of this session, and how to reach it."""

    port: int
    password: str
    folder: Path
    process: ManagedProcess | None = None  # None: only a client of it
    host: str = LOOPBACK
    # The database number the next stack gets.
    numbers: Iterator[int] = field(default_factory=itertools.count, compare=False, repr=False)

    def url(self, database: int) -> str:
        return f"redis://default:{self.password}@{self.host}:{self.port}/{database}"

    def client(self, database: int = 0) -> redis.Redis:
        return redis.Redis(
            host=self.host, port=self.port, password=self.password, db=database, socket_timeout=5
        )

    def ping(self) -> bool:
        with self.client() as connection:
            return bool(connection.ping())

    def allocate(self, root: Path, label: str) -> RedisDatabase:
        """The stack gets a database number of its own."""
        return RedisDatabase(self, next(self.numbers))


@dataclass(frozen=True)
class RedisDatabase:
    """One stack's Redis database number on the session's Redis server."""

    server: RedisServer
    number: int

    def settings(self) -> dict[str, str]:
        """Every Redis-backed server setting, pointed at this database."""
        url = self.server.url(self.number)
        return {**REDIS_MODULES, **dict.fromkeys(REDIS_URLS, url)}

    def describe(self) -> str:
        return f"Redis database {self.number} at {self.server.host}:{self.server.port}"

    def release(self) -> None:
        """Nothing to give back: the server and its files go with the session."""


def in_memory_settings(python: Path, env: Mapping[str, str], cwd: Path) -> dict[str, str]:
    """What, with `env`, a Prefect server would still keep in memory (or look for on
    localhost:6379): setting path -> value. Read by Prefect's own settings in a child."""
    result = subprocess.run(
        [str(python), "-c", IN_MEMORY_PROBE],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found: dict[str, str] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def find_server() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise BackendUnavailable(f"no redis-server here: {INSTALL_HINT}")
    return found


@contextmanager
def running_redis(host: ProcessHost, logs: Path, *, name: str = "redis") -> Iterator[RedisServer]:
    """A new Redis server on a free loopback port, yielded once it answers PING; stopped
    and its files removed on the way out, whatever happened."""
    executable = find_server()
    port = free_port()
    folder = janitor.owned_folder() / f"{name}-{port}"
    folder.mkdir()
    try:
        client = RedisServer(port, secrets.token_urlsafe(18), folder)
        config = folder / "redis.conf"  # the password stays out of the process list
        config.write_text(
            f"port {port}\nbind {LOOPBACK}\nrequirepass {client.password}\n"
            f'dir {folder}\ndatabases {DATABASES}\nsave ""\n'
            "appendonly yes\nappendfsync everysec\n"
        )
        config.chmod(0o600)
        spec = ProcessSpec(
            name=f"{name}-{port}-{os.getpid()}",
            label="redis-server",
            args=(executable, str(config)),
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            cwd=folder,
            log_path=logs / f"{name}.log",
            ready=Probe(client.ping, f"redis-server to answer PING on {port}"),
        )
        with managed_process(host, spec) as process:
            yield replace(client, process=process)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _provision(context: ProvisionContext) -> AbstractContextManager[RedisServer]:
    return running_redis(context.host, context.folder)


def check_installed() -> None:
    find_server()


PROVIDER = Provider("redis", check_installed=check_installed, provision=_provision)
