"""Fixtures of the AI tests (the simulated history lives in ai_history.py)."""

from ai_history import history

__all__ = ["history"]
