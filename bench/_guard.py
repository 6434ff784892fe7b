# ruff: noqa: T201 - a benchmark script reports on standard output.
"""What every benchmark script shares: it touches only a database of its own, and its exit status says whether it met
its target.

- ``bench_database_url(url, name)``: the URL of the benchmark's own database on the server of ``url``. The name must
  contain "bench" and the server must be this machine, or the script stops (exit status 2) before connecting:
  benchmarks create, empty and drop their databases, and a typo in ``--database`` must never reach a real one.
- ``require_bench_name(name)``: the same check, again, right before a statement that empties or drops.
- ``verdict(met, what)``: prints the target's line and returns the exit status (0 met, 1 missed).
- ``baseline(label, seconds, work)``: prints a baseline's line with the work it does in one line, so a reader can
  tell a reference unit of the same work without the portal's overhead from the portal's own figure.
"""

from __future__ import annotations

import sys
from urllib.parse import urlsplit, urlunsplit

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", None}
MARK = "bench"


class NotABenchDatabaseError(SystemExit):
    """Raised (as an exit with status 2) instead of touching a database that is not a benchmark's own."""

    def __init__(self, message: str) -> None:
        print(message, file=sys.stderr)
        super().__init__(2)


def require_bench_name(name: str) -> str:
    """``name`` when it marks a benchmark's own database ("bench" in it); otherwise the script stops, status 2."""
    if MARK not in (name or ""):
        raise NotABenchDatabaseError(
            f"Refusing to use database {name!r}: a benchmark creates, empties and drops its database, so its name "
            f"must contain {MARK!r} (e.g. lp_bench_servicing)."
        )
    return name


def bench_database_url(url: str, name: str | None = None) -> str:
    """The URL of database ``name`` (default: the one ``url`` names) on ``url``'s PostgreSQL server, after checking
    that the server is this machine and that the name marks a benchmark's own database."""
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise NotABenchDatabaseError(f"The benchmark needs PostgreSQL; the URL is {parts.scheme}://….")
    if parts.hostname not in LOCAL_HOSTS:
        raise NotABenchDatabaseError(
            f"The benchmark only runs against a PostgreSQL on this machine, not {parts.hostname}."
        )
    name = require_bench_name(name if name is not None else parts.path.lstrip("/"))
    return urlunsplit(parts._replace(path=f"/{name}"))


def maintenance_url(url: str) -> str:
    """The server's maintenance database (``postgres``), to create and drop benchmark databases from."""
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def baseline(label: str, seconds: float, work: str) -> None:
    """One line for a baseline: its time and, in words, the work it does (and so what it leaves out)."""
    print(f"{label:9} {seconds:8.2f} s  baseline: {work}")


def verdict(met: bool, what: str) -> int:
    """Print whether the target ``what`` was met; the exit status to return (0 met, 1 missed)."""
    print(f"target    {what}: {'met' if met else 'MISSED'}")
    return 0 if met else 1


__all__ = ["baseline", "bench_database_url", "maintenance_url", "require_bench_name", "verdict"]
