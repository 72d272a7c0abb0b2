"""Assembly of the configured agents: export targets, emitters, state directories, one service."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

from collector.agents.carrier import CarrierAgent
from collector.agents.edi import EdiAgent
from collector.agents.emitter import Emitter, TimeWindow
from collector.agents.poller import Poller
from collector.agents.settings import (
    AgentSettings,
    CarrierAgentSettings,
    EdiAgentSettings,
    ExportSettings,
    PollerAgentSettings,
)
from tracing.otlp_http import otlp_exporter

log = logging.getLogger(__name__)


class Agent(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


def export_target(export: ExportSettings, local_endpoint: str, local_token: str) -> tuple[str, str]:
    """(endpoint, token): the configured collector, else the local one of ``tower serve``."""
    endpoint = export.endpoint or local_endpoint
    token = export.token.get_secret_value() or local_token
    return endpoint, token


def make_emitter(
    export: ExportSettings, service_name: str, kind: str, local_endpoint: str = "", local_token: str = ""
) -> Emitter:
    endpoint, token = export_target(export, local_endpoint, local_token)
    if not endpoint:
        raise ValueError(f"{kind} agent has no collector endpoint (set its export.endpoint)")
    exporter = otlp_exporter(endpoint, token, export.timeout_s, export.max_request_bytes)
    return Emitter(exporter, service_name, kind, window=time_window(export))


def time_window(export: ExportSettings) -> TimeWindow:
    """The span times an agent sends, from its export settings."""
    return TimeWindow(export.max_span_age_days * 86400, export.max_span_ahead_s)


def edi_agent(
    settings: EdiAgentSettings, data_dir: Path, local_endpoint: str = "", local_token: str = ""
) -> EdiAgent:
    state = settings.state_dir or data_dir / "agents" / "edi"
    emitter = make_emitter(settings.export, settings.system_instance, "edi", local_endpoint, local_token)
    return EdiAgent(settings, emitter, state)


def carrier_agent(
    settings: CarrierAgentSettings, data_dir: Path, local_endpoint: str = "", local_token: str = ""
) -> CarrierAgent:
    state = settings.state_dir or data_dir / "agents" / "carrier"
    emitter = make_emitter(settings.export, settings.system_instance, "carrier", local_endpoint, local_token)
    return CarrierAgent(settings, emitter, state)


def poller_agent(
    settings: PollerAgentSettings, data_dir: Path, local_endpoint: str = "", local_token: str = ""
) -> Poller:
    state = settings.state_dir or data_dir / "agents" / "poller"
    emitter = make_emitter(settings.export, settings.system_instance, "poller", local_endpoint, local_token)
    return Poller(settings, emitter, state)


def build_agents(
    settings: AgentSettings, data_dir: Path, local_endpoint: str, local_token: str
) -> list[Agent]:
    """The enabled agents, not started."""
    agents: list[Agent] = []
    if settings.edi.enabled:
        agents.append(edi_agent(settings.edi, data_dir, local_endpoint, local_token))
    if settings.carrier.enabled:
        agents.append(carrier_agent(settings.carrier, data_dir, local_endpoint, local_token))
    for poller in settings.pollers:
        if poller.enabled:
            agents.append(poller_agent(poller, data_dir, local_endpoint, local_token))
    return agents


class AgentsService:
    """The enabled agents as one ``tower serve`` service (started after the collector)."""

    name = "agents"

    def __init__(self, agents: list[Agent]) -> None:
        self.agents = agents
        self._started: list[Agent] = []

    def start(self) -> None:
        for agent in self.agents:
            try:
                agent.start()
            except BaseException:
                self.stop()  # the agents already started
                raise
            self._started.append(agent)
            log.info("agent %s started", agent.name)

    def stop(self) -> None:
        for agent in reversed(self._started):
            try:
                agent.stop()
            except Exception:
                log.exception("stopping agent %s failed", agent.name)
        self._started = []
