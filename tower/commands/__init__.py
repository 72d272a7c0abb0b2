"""The ``tower`` command's commands, one module per command group.

Each module has a Typer ``app`` that :mod:`tower.cli` registers: an ``app`` with a name is a group
(``tower alerts ...``), one without a name adds its commands at the top level (``tower serve``).
Commands parse options, call into the packages and print; process assembly lives in
:mod:`tower.runtime`, :mod:`tower.roles`, :mod:`tower.serve` and :mod:`tower.scheduling`.
"""
