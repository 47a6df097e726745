"""The names the guide gives the work pool and the deployment, as one sandbox uses them.

On a server the harness runs itself they are the guide's, exactly. On a server shared
with others (external mode) each sandbox's pool and deployment carry a suffix of its own,
so that it never touches, nor is confused with, what is not its own. The flow's name is
the blueprint's and never changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from blueprint_harness.guide import expectations
from blueprint_harness.stack.sandbox import Sandbox


@dataclass(frozen=True)
class GuideNames:
    suffix: str = ""
    deployment_name: str | None = None  # another deployment of the same manifest

    @property
    def exact(self) -> bool:
        """Whether these are the guide's names themselves."""
        return not self.suffix

    def _suffixed(self, name: str) -> str:
        return f"{name}-{self.suffix}" if self.suffix else name

    @property
    def pool(self) -> str:
        return self._suffixed(expectations.WORK_POOL_NAME)

    @property
    def deployment(self) -> str:
        return self.deployment_name or self._suffixed(expectations.DEPLOYMENT_NAME)

    @property
    def deployment_full(self) -> str:
        """`<flow name>/<deployment name>`, as `prefect deployment run` takes it."""
        return f"{expectations.FLOW_NAME}/{self.deployment}"


GUIDE_NAMES = GuideNames()


def names_for(sandbox: Sandbox) -> GuideNames:
    """The names a sandbox uses: the guide's, with its suffix when it has one."""
    return GuideNames(sandbox.name_suffix)
