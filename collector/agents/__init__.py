"""Agents for systems that cannot be instrumented: EDI X12 files, carrier webhooks, database pollers.

Each agent reads what a legacy system already produces and sends hop spans over OTLP/HTTP like any
client (:mod:`collector.agents.emitter`); it acknowledges its source only after the collector
accepted the spans. :func:`collector.agents.runtime.build_agents` assembles the configured ones.
"""

import logging

# A library's loggers stay quiet until the process configures logging (the tower commands do).
logging.getLogger(__name__).addHandler(logging.NullHandler())
