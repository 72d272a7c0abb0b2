"""Registers the services of each role with :mod:`tower.serve` (the composition root's wiring)."""

from __future__ import annotations
