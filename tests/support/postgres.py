"""A throwaway PostgreSQL server for the poller tests: ``initdb`` + ``pg_ctl`` on 127.0.0.1.

``.ci/run`` installs Debian's ``postgresql``; a test that needs the server FAILS when it cannot start
one (a skipped test would claim nothing and hide the gap). ``TOWER_TEST_POSTGRES_URL`` points the
tests at an existing server instead. PostgreSQL cannot bind port 0 and report the port, so a free
port is chosen and the start is retried on another one if something took it in between.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

URL_ENV = "TOWER_TEST_POSTGRES_URL"
ATTEMPTS = 5


class PostgresUnavailable(RuntimeError):
    pass


def binaries() -> tuple[str, str]:
    """initdb and pg_ctl: on the PATH, else Debian's /usr/lib/postgresql/<version>/bin (newest)."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return initdb, pg_ctl
    for bindir in sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True
    ):
        if os.access(f"{bindir}/initdb", os.X_OK) and os.access(f"{bindir}/pg_ctl", os.X_OK):
            return f"{bindir}/initdb", f"{bindir}/pg_ctl"
    raise PostgresUnavailable(
        "PostgreSQL is not installed: apt-get install -y postgresql (as .ci/run does), "
        f"or set {URL_ENV} to a server"
    )


def _run_as() -> tuple[list[str], int | None, int | None]:
    """PostgreSQL refuses to run as root: as root, run it as the ``postgres`` user (Debian creates it)."""
    if os.geteuid() != 0:
        return [], None, None
    import pwd

    runuser = shutil.which("runuser")
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        user = None
    if not runuser or user is None:
        raise PostgresUnavailable(
            "running as root, and there is no postgres user or no runuser to start it as"
        )
    return [runuser, "-u", "postgres", "--"], user.pw_uid, user.pw_gid


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[str]:
    """A SQLAlchemy URL (psycopg) of a running server, stopped and removed afterwards."""
    url = os.environ.get(URL_ENV)
    if url:
        yield url
        return
    initdb, pg_ctl = binaries()
    run_as, uid, gid = _run_as()
    base = Path(tempfile.mkdtemp(prefix="tower-pg-"))
    if uid is not None and gid is not None:
        os.chown(base, uid, gid)
    data = base / "data"
    try:
        done = subprocess.run(
            [*run_as, initdb, "-D", str(data), "-U", "tower", "--auth=trust", "-E", "UTF8"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {done.stderr.strip()[-2000:]}")
        log = base / "log"
        for _ in range(ATTEMPTS):
            port = _free_port()
            options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
            started = subprocess.run(
                [*run_as, pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start"],
                capture_output=True,
                text=True,
                timeout=120,
            )
            if started.returncode == 0:
                break
            text = log.read_text(errors="replace") if log.exists() else started.stderr
            if "could not bind" not in text and "already in use" not in text:
                raise PostgresUnavailable(f"pg_ctl start failed: {started.stderr.strip()}\n{text[-2000:]}")
        else:
            raise PostgresUnavailable(f"no free port for PostgreSQL after {ATTEMPTS} attempts")
        try:
            yield f"postgresql+psycopg://tower@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                [*run_as, pg_ctl, "-D", str(data), "-m", "fast", "stop"], capture_output=True, timeout=60
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)
