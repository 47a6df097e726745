"""A whole stack on any backend outside pytest: the servers its backend needs, its sandbox
and its server. `blueprint up` and the load benchmark stand on it; the fixtures build the
same from fixtures of their own (fixtures/factories.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from blueprint_harness.backends import BackendServers
from blueprint_harness.backends.base import ProvisionContext
from blueprint_harness.config import HarnessConfig
from blueprint_harness.process.xprocess_adapter import XProcess
from blueprint_harness.stack.sandbox import scrubbed_environ, venv_bin
from blueprint_harness.stack.sandboxes import open_sandbox
from blueprint_harness.stack.stack import Stack, own_stack


@contextmanager
def standalone_stack(
    xprocess: XProcess, scratch: Path, config: HarnessConfig, template_cache: Path
) -> Iterator[Stack]:
    """Start everything `config.backend` needs under `scratch`; stop it all on exit."""

    def context(need: str) -> ProvisionContext:
        return ProvisionContext(
            xprocess=xprocess,
            folder=scratch,
            prefect=venv_bin() / "prefect",
            env=scrubbed_environ(),
            startup_timeout=config.startup_timeout,
            log_tail=config.log_tail,
            template_cache=template_cache,
            use_template=config.db_template,
        )

    with BackendServers(context) as servers:
        sandbox = open_sandbox(scratch / "stack", config, servers)
        try:
            with own_stack(xprocess, sandbox, config) as stack:
                yield stack
        finally:
            sandbox.release()
