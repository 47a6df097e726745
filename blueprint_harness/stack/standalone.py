"""A whole stack on any backend outside pytest: the servers its backend needs, its sandbox
and its server. `blueprint up` and the load benchmark stand on it; the fixtures build the
same from fixtures of their own (fixtures/factories.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from blueprint_harness.config import HarnessConfig
from blueprint_harness.process.managed import ProcessHost
from blueprint_harness.stack.sandboxes import backend_servers, open_sandbox
from blueprint_harness.stack.stack import OwnStack, own_stack


@contextmanager
def standalone_stack(host: ProcessHost, scratch: Path, config: HarnessConfig) -> Iterator[OwnStack]:
    """Start everything `config.backend` needs under `scratch`; stop it all on exit."""
    with backend_servers(host, lambda need: scratch, config) as servers:
        sandbox = open_sandbox(scratch / "stack", config, servers)
        try:
            with own_stack(host, sandbox, config.run_timeout) as stack:
                yield stack
        finally:
            sandbox.release()
