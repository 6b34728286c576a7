"""pytest fixtures serving a simulated IAM Identity Center on loopback, one server per test.

``ssooidc_simulator`` yields a :class:`~sansio_ssooidc.adapters.simserver.SimulatorServer`: point
clients at ``server.url`` (both sso-oidc and the portal) and drive the fake service through
``server.simulator`` (``approve``, ``deny``, ``pending_user_codes``, counters). Configure it with
the ``ssooidc_simulator`` marker, whose keywords go to :class:`~sansio_ssooidc.simulator.Simulator`::

    @pytest.mark.ssooidc_simulator(user=UserScript(action="deny"), interval=5)
    def test_denied_login(ssooidc_simulator): ...

``ssooidc_simulator_factory`` starts more servers (``factory(simulator=None, *, clock=time.time)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sansio_ssooidc.simulator import Simulator

from .simserver import SimulatorServer

__all__ = ["ssooidc_simulator", "ssooidc_simulator_factory"]


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``ssooidc_simulator`` marker (so ``--strict-markers`` accepts it)."""
    config.addinivalue_line(
        "markers",
        "ssooidc_simulator(**config): keyword arguments for the ssooidc_simulator fixture's Simulator",
    )


@pytest.fixture
def ssooidc_simulator_factory() -> Iterator[Callable[..., SimulatorServer]]:
    """A function starting :class:`SimulatorServer` instances, all closed after the test."""
    servers: list[SimulatorServer] = []

    def start(simulator: Simulator | None = None, **kwargs: Any) -> SimulatorServer:
        server = SimulatorServer(simulator, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def ssooidc_simulator(
    request: pytest.FixtureRequest, ssooidc_simulator_factory: Callable[..., SimulatorServer]
) -> SimulatorServer:
    """A running simulator server (``.url``, ``.simulator``), configured by the
    ``ssooidc_simulator`` marker if the test has one."""
    marker = request.node.get_closest_marker("ssooidc_simulator")
    config = {} if marker is None else dict(marker.kwargs)
    return ssooidc_simulator_factory(Simulator(**config))
