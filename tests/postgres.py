"""A PostgreSQL server of the test's own: Debian's binaries, a fresh cluster on a free port.

Run as a script, it serves a whole command: ``python tests/postgres.py pytest ...`` runs the
suite on a fresh cluster (the test settings read ``LIVE_ADMIN_TEST_PG``), then removes it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def _bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: p.parts[-3])
    path = str(found[-1]) if found else shutil.which(name)
    if path is None:
        import pytest  # late: the bench uses this module too, without pytest

        pytest.fail("PostgreSQL is not installed: run `make test`, or apt-get install postgresql")
    return path


class PostgresServer:
    """``initdb`` and ``pg_ctl`` as the postgres user (as root) or as this one, trust auth."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.directory = Path(tempfile.mkdtemp(prefix="live-admin-pg-"))
        self.directory.chmod(0o755)
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb will not run as root
            shutil.chown(self.directory, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        data, log = self.directory / "data", self.directory / "server.log"
        self._run(_bin("initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = f"-p {port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(_bin("pg_ctl"), "-D", data, "-l", log, "-w", "-o", options, "start")

    def _run(self, *command: object) -> None:
        subprocess.run(
            [*self.as_user, *map(str, command)], check=True, capture_output=True, timeout=120
        )

    @property
    def env(self) -> dict[str, str]:
        """What the test settings read to use this server (``LIVE_ADMIN_TEST_PG``)."""
        return {"LIVE_ADMIN_TEST_PG": str(self.port), "LIVE_ADMIN_TEST_DB": "postgres"}

    def restart(self) -> None:
        """Stop the server at once (its sessions end) and start it again, data kept."""
        log = self.directory / "server.log"
        self._run(
            _bin("pg_ctl"),
            "-D",
            self.directory / "data",
            "-l",
            log,
            "-m",
            "immediate",
            "-w",
            "restart",
        )

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` with psql on ``database``, as a person at a terminal would; its output."""
        done = subprocess.run(
            [
                _bin("psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-qAtc",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done.stdout.strip()

    def stop(self) -> None:
        self._run(_bin("pg_ctl"), "-D", self.directory / "data", "-m", "immediate", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)


if __name__ == "__main__":
    import signal
    import sys

    def stopped(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # so that the cluster is removed (finally, below)

    signal.signal(signal.SIGTERM, stopped)
    from ports import free_port  # tests/ports.py, beside this script

    port = free_port()
    server = PostgresServer(port)
    try:
        print(f"PostgreSQL on port {port}", flush=True)
        sys.exit(subprocess.run(sys.argv[1:], env={**os.environ, **server.env}).returncode)
    finally:
        server.stop()
