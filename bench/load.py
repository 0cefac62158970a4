"""Load on two portal replicas sharing PostgreSQL and Redis, next to nginx serving the same files.

The repository's own docs and catalog are built once into a work folder. Two real
``portal serve`` processes (the replicas) share one fresh PostgreSQL database, one
Redis (under a key prefix of this run) and the built sites; nginx, on the same
machine, balances between them, and serves the same site files itself on another
port: that second port is the ceiling, what this machine does with static files
and no portal at all.

wrk (C, from Debian's package) drives each target with the same connections for the
same time. The portal's mix is 70% doc pages, 15% searches, 10% catalog API calls
and 5% entity pages, every request with an API token (``Authorization: Bearer``),
which each replica checks (and remembers for ``auth_memo_seconds``). The ceiling's
mix is the doc pages alone. Before the load, every path of the mix is asked once
through nginx: any answer but 200 stops the run.

Goal: 1,667 requests per second (100,000 per minute) with p95 under 200 ms and no
errors. wrk keeps every connection busy (closed loop), so latency is about
connections / throughput; ``--connections`` takes several values to show how it grows.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bench.catalog_api import BenchError, _free_port, _stop, _tail, _wait_quiet

GOAL_RPS = 100_000 / 60
GOAL_P95_S = 0.200
MIX = {"page": 70, "search": 15, "api": 10, "entity": 5}
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parent.parent
# Printed by the wrk script when a run ends: one JSON line.
WRK_SCRIPT = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local counter = 0
setup = function(thread) counter = counter + 1; thread:set("offset", counter * 7919) end
init = function(args) n = offset or 0 end
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "seconds": %%f, "p50_us": %%d, "p95_us": %%d, "p99_us": %%d, '
    .. '"max_us": %%d, "errors": {"connect": %%d, "read": %%d, "write": %%d, "status": %%d, '
    .. '"timeout": %%d}}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench load", description=__doc__)
    parser.add_argument("--duration", type=int, default=30, help="seconds of load per run")
    parser.add_argument(
        "--connections",
        default="64,256",
        help="comma-separated open connections, one run each (default 64,256)",
    )
    parser.add_argument("--replicas", type=int, default=2, help="portal processes (default 2)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the request mix")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    connections = [int(c) for c in args.connections.split(",") if c.strip()]
    missing = [tool for tool in ("wrk", "nginx") if shutil.which(tool) is None]
    if missing:
        print(
            f"error: {' and '.join(missing)} not found: apt-get install -y wrk nginx-light",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        try:
            figures = _run(args, connections, Path(tmp))
        except BenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print(json.dumps(figures, indent=2) if args.json else _report(figures))
    return 0


def _run(args: argparse.Namespace, connections: list[int], work: Path) -> dict[str, Any]:
    work.chmod(0o755)  # nginx's workers run as another user: they must reach the site
    site = work / "site"
    _say(args, "building the repository's sites ...")
    started = time.perf_counter()
    build = subprocess.run(
        [sys.executable, "-m", "portal", "build", "--root", str(ROOT)],
        env=_env({"PORTAL_SITE_DIR": str(site), "PORTAL_DATA_DIR": str(work / "build-data")}),
        capture_output=True,
        text=True,
    )
    if build.returncode != 0:
        raise BenchError(f"portal build failed:\n{build.stderr[-2000:]}")
    build_s = time.perf_counter() - started
    with ExitStack() as stack:
        database = stack.enter_context(_database())
        prefix = f"bench-load-{os.getpid()}:"
        stack.callback(_forget_redis, prefix)
        token = _token(database)
        shared = {
            "PORTAL_DATABASE_URL": database,
            "PORTAL_REDIS_URL": REDIS_URL,
            "PORTAL_REDIS_PREFIX": prefix,
            "PORTAL_SITE_DIR": str(site),
            "PORTAL_LIVE_PROBE_INTERVAL": "0",
            "PORTAL_LOG_FORMAT": "json",
        }
        ports, replicas = [], []
        for i in range(args.replicas):
            port = _free_port()
            own = {"PORTAL_DATA_DIR": str(work / f"replica-{i}")}
            replica = _serve(port, _env(shared | own), work / f"replica-{i}.log")
            stack.callback(_stop, replica)
            ports.append(port)
            replicas.append(replica)
        headers = {"Authorization": f"Bearer {token}"}
        for port in ports:
            _wait_ready(port, headers, work)
        # Timing a replica still busy with its start-up work (search index, scorecards)
        # would measure that work, not the requests.
        _say(args, "waiting for the replicas' start-up work to end ...")
        quiet_s = [_wait_quiet(replica.pid) for replica in replicas]
        proxy, static = _free_port(), _free_port()
        stack.callback(_stop, _nginx(work, ports, proxy, static, site))
        paths = _mix(site, proxy, headers, random.Random(args.seed))
        _check(proxy, headers, paths)
        pages = [p for kind, p in paths if kind == "page"]
        _check(static, {}, [("page", p) for p in pages])
        runs = []
        for count in connections:
            _say(args, f"{count} connections: the portal through nginx ...")
            portal = _wrk(work, proxy, [p for _, p in paths], count, args.duration, token)
            _say(args, f"{count} connections: nginx alone, the same pages ...")
            ceiling = _wrk(work, static, pages, count, args.duration, None)
            runs.append({"connections": count, "portal": portal, "nginx": ceiling})
    return {
        "replicas": args.replicas,
        "duration_s": args.duration,
        "build_s": build_s,
        "mix": {kind: sum(1 for k, _ in paths if k == kind) for kind in MIX},
        "distinct_paths": len({p for _, p in paths}),
        "quiet_after_s": quiet_s,
        "cpus": os.cpu_count(),
        "runs": runs,
    }


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    return env | extra


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.json:
        print(text, file=sys.stderr, flush=True)


@contextmanager
def _database() -> Iterator[str]:
    """A fresh database on the machine's PostgreSQL for this run, dropped after it."""
    import psycopg

    name = f"portal_load_{os.getpid()}"
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True)
    except psycopg.OperationalError as exc:
        raise BenchError(f"PostgreSQL at {ADMIN_URL}: {exc}") from None
    with admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _forget_redis(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


def _token(database: str) -> str:
    """A catalog:read API token in the shared database, as an admin would create it."""
    from portal.auth import tokens
    from portal.db import Database
    from portal.web.identity import development_user

    db = Database(database)
    db.migrate()
    issued = tokens.issue(
        db,
        development_user("load@localhost"),
        name="load benchmark",
        kind="ci",
        service="load",
        roles=["reader"],
        scopes=["catalog:read"],
    )
    db.dispose()
    return issued.secret


def _serve(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "portal", "serve", "--root", str(ROOT)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-build"]
    with log.open("wb") as output:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=output)


def _wait_ready(port: int, headers: dict[str, str], work: Path) -> None:
    """Until the replica is ready and its search index answers."""
    deadline = time.monotonic() + 180
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
        while time.monotonic() < deadline:
            try:
                ready = client.get("/readyz").status_code == 200
                found = client.get("/api/v1/search", params={"q": "deployment"})
                if ready and found.status_code == 200 and found.json()["total"] > 0:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
    logs = "\n".join(_tail(log) for log in sorted(work.glob("replica-*.log")))
    raise BenchError(f"the replica on port {port} was not ready after 180 s:\n{logs}")


def _nginx(work: Path, ports: list[int], proxy: int, static: int, site: Path) -> Any:
    conf = work / "nginx.conf"
    upstream = "\n".join(f"    server 127.0.0.1:{p};" for p in ports)
    conf.write_text(
        f"""worker_processes auto;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  include /etc/nginx/mime.types;
  client_body_temp_path {work}/nginx-body;
  proxy_temp_path {work}/nginx-proxy;
  upstream portal {{
{upstream}
    keepalive 128;
  }}
  server {{
    listen 127.0.0.1:{proxy};
    location / {{
      proxy_pass http://portal;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
    }}
  }}
  server {{
    listen 127.0.0.1:{static};
    location /docs/ {{ alias {site}/; }}
  }}
}}
""",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        ["nginx", "-c", str(conf), "-p", str(work), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=(work / "nginx.log").open("wb"),
    )
    time.sleep(0.5)
    if process.poll() is not None:
        raise BenchError(f"nginx did not start:\n{_tail(work / 'nginx.log')}")
    return process


def _mix(
    site: Path, port: int, headers: dict[str, str], rng: random.Random
) -> list[tuple[str, str]]:
    """200 requests in the mix's proportions, in a random order."""
    pages = sorted(
        f"/docs/{page.relative_to(site).parent.as_posix()}/"
        for page in site.glob("*/**/index.html")
        if not page.relative_to(site).parts[0].startswith(".")
    )
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
        # Only the sites the token may read (the public one and the internal ones).
        readable = {
            name
            for name in {p.split("/")[2] for p in pages}
            if client.get(f"/docs/{name}/").status_code == 200
        }
        pages = [p for p in pages if p.split("/")[2] in readable]
        listed = client.get("/api/v1/entities", params={"limit": 100}).json()["items"]
    refs = [
        (e["kind"].lower(), e["metadata"].get("namespace", "default"), e["metadata"]["name"])
        for e in listed
    ]
    words = [w for p in pages for w in p.strip("/").split("/")[-1].split("-") if len(w) > 3]
    if not pages or not refs or not words:
        raise BenchError("the built sites or the catalog are empty")
    make = {
        "page": lambda: rng.choice(pages),
        "search": lambda: "/api/v1/search?" + urlencode({"q": " ".join(rng.sample(words, 2))}),
        "api": lambda: rng.choice(
            [
                "/api/v1/entities?" + urlencode({"kind": rng.choice(["component", "api"])}),
                "/api/v1/entities/{}/{}/{}".format(*rng.choice(refs)),
            ]
        ),
        "entity": lambda: "/catalog/{}/{}/{}".format(*rng.choice(refs)),
    }
    paths = [(kind, make[kind]()) for kind, share in MIX.items() for _ in range(share * 2)]
    rng.shuffle(paths)
    return paths


def _check(port: int, headers: dict[str, str], paths: list[tuple[str, str]]) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
        for _, path in paths:
            status = client.get(path).status_code
            if status != 200:
                raise BenchError(f"GET :{port}{path} answered {status} before the load")


def _wrk(
    work: Path, port: int, paths: list[str], connections: int, seconds: int, token: str | None
) -> dict[str, Any]:
    listing = work / f"paths-{port}.txt"
    listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
    script = work / f"mix-{port}.lua"
    script.write_text(WRK_SCRIPT % {"paths": listing}, encoding="utf-8")
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    command += ["-s", str(script)]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    done = subprocess.run(
        [*command, f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    figures: dict[str, Any] = json.loads(lines[-1])
    figures["rps"] = figures["requests"] / figures["seconds"]
    figures["error_count"] = sum(figures["errors"].values())
    return figures


def _report(figures: dict[str, Any]) -> str:
    mix = ", ".join(f"{n} {kind}" for kind, n in figures["mix"].items())
    lines = [
        f"load: {figures['replicas']} portal replicas (PostgreSQL, Redis, shared sites) behind "
        f"nginx, {figures['cpus']} CPUs, wrk {figures['duration_s']} s per run",
        f"mix of 200 requests ({figures['distinct_paths']} distinct paths): {mix}; "
        "ceiling: nginx serving the same doc pages",
        f"goal: {GOAL_RPS:,.0f} requests/s with p95 < {GOAL_P95_S * 1000:.0f} ms and no errors",
        "",
        f"{'connections':>11}  {'target':<22}{'req/s':>9}{'p50':>9}{'p95':>9}{'p99':>9}"
        f"{'errors':>8}",
    ]
    for run in figures["runs"]:
        for label, key in (("portal (2 replicas)", "portal"), ("nginx static (ceiling)", "nginx")):
            r = run[key]
            lines.append(
                f"{run['connections']:>11}  {label:<22}{r['rps']:>9,.0f}"
                f"{r['p50_us'] / 1000:>7.1f}ms{r['p95_us'] / 1000:>7.1f}ms"
                f"{r['p99_us'] / 1000:>7.1f}ms{r['error_count']:>8}"
            )
        portal = run["portal"]
        met = (
            portal["rps"] >= GOAL_RPS
            and portal["p95_us"] / 1e6 < GOAL_P95_S
            and not portal["error_count"]
        )
        lines.append(
            f"{'':>13}goal at {run['connections']} connections: {'met' if met else 'NOT met'}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
