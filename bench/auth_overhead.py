"""Requests per second and p95 of authenticated requests next to the same requests with auth off.

Two real ``portal serve`` processes on loopback serve the same generated catalog at the
same time. One ("off") has no single sign-on: the development identity answers, and no
credential is checked ("auth disabled"). The other ("sso") has single sign-on against a real
OpenID provider process (``tests/oidc_provider.py``): a browser signs in as alice through
the whole redirect dance (/login, the provider's consent, /auth/callback) and sends its
session cookie with the pages; an API client sends a ``catalog:read`` token, created by
alice on /admin/tokens, as ``Authorization: Bearer``.

Each request (the catalog page filtered by kind, an entity page, the list API filtered
by kind) is asked of both servers. After a warm-up, each timed round asks all six once,
in a new random order, one at a time over keep-alive clients with the same settings;
requests/s is 1/mean. Then, unless ``--concurrency 0``, each row is asked by that many
threads at once (a client each) in bursts, the rows' bursts again in random order.
Goal, for the page requests at one at a time: auth costs under 10% of throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.catalog_api import BenchError, _free_port, _ms, _percentile, _stop, _wait_ready
from bench.catalog_load import PATTERN, _corpus, _printer
from tests.oidc_provider import USERS, OidcProvider, sign_in, sso_settings

GOAL = 0.10  # the largest share of throughput auth may cost
ENTITIES = 1_000
WARMUP = 30  # untimed rounds first
CONCURRENCY = 4
BURST = 10  # requests per thread in one concurrent burst
USER = "alice"  # of tests/oidc_provider.py: an admin there, so she may create a token
SERVERS = {"off": "auth disabled (development identity)", "sso": "single sign-on"}
CREDENTIAL = {"page": "session cookie", "api": "API token"}
_TOKEN = re.compile(r"qp_[0-9a-f]+_[A-Za-z0-9_-]+")
_CSRF = re.compile(r'<input type="hidden" name="csrf" value="([^"]*)">')


@dataclass(slots=True)
class Variant:
    """One request asked of one server, with the clients that ask it."""

    request: str
    server: str  # a key of SERVERS
    path: str
    clients: list[httpx.Client]  # the first asks one at a time; each asks in a thread at once
    times: list[float] = field(default_factory=list)
    bursts: list[tuple[int, float]] = field(default_factory=list)  # (requests, seconds)
    sizes: list[int] = field(default_factory=list)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench auth", description=__doc__)
    parser.add_argument(
        "--requests", type=int, default=400, help="timed requests per row, one at a time"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=CONCURRENCY,
        help=f"threads asking at once after that (default {CONCURRENCY}; 0: skip)",
    )
    parser.add_argument("--entities", type=int, default=ENTITIES, help="entities to generate")
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of the corpus and the order of requests"
    )
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="generate the corpus into DIR once, and reuse it"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    if args.concurrency < 0:
        parser.error("--concurrency must be 0 (skip) or more")
    if args.entities < 3:
        parser.error("--entities must be at least 3")

    say = _printer(args.json)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-auth-") as tmp:
        root = args.keep.resolve() if args.keep is not None else Path(tmp) / "corpus"
        try:
            corpus = _corpus(root, args.entities, args.seed, say)
        except (FileExistsError, ValueError) as exc:  # a --keep DIR of another corpus
            print(f"error: {exc}", file=sys.stderr)
            return 2
        try:
            runs = _measure(root, Path(tmp), args, say)
        except BenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    figures = _figures(runs, corpus, args, load_before, os.getloadavg())
    print(json.dumps(figures, indent=2) if args.json else report(figures))
    return 0


# -- the servers and their clients ----------------------------------------------------


def _measure(
    root: Path, tmp: Path, args: argparse.Namespace, say: Callable[[str], None]
) -> dict[str, Any]:
    with ExitStack() as stack:
        try:
            provider = OidcProvider().start()
        except RuntimeError as exc:
            raise BenchError(str(exc)) from None
        stack.callback(provider.stop)
        say(f"provider: {provider.url}")
        sso = {
            f"PORTAL_{key.upper()}": value if isinstance(value, str) else json.dumps(value)
            for key, value in sso_settings(provider).items()
        }
        # Started together, so they load the catalog side by side.
        starting = {}
        for name in SERVERS:
            starting[name] = _start(root, tmp / name, sso if name == "sso" else {})
            stack.callback(_stop, starting[name][0])
        bases = {}
        for name, (server, log, port, started) in starting.items():
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60.0) as probe:
                seconds = _wait_ready(server, probe, log, started)
            say(f"serve: {SERVERS[name]} on 127.0.0.1:{port}, answering after {seconds:.1f} s")
            bases[name] = f"http://127.0.0.1:{port}"

        def clients(base: str) -> list[httpx.Client]:
            """Keep-alive clients, one per thread, with the same settings for every row."""
            return [
                stack.enter_context(httpx.Client(base_url=base, timeout=60.0))
                for _ in range(max(args.concurrency, 1))
            ]

        off_pages, off_api = clients(bases["off"]), clients(bases["off"])
        sso_pages, sso_api = clients(bases["sso"]), clients(bases["sso"])
        _sign_in(sso_pages[0], provider, bases["sso"])
        for browser in sso_pages[1:]:
            browser.cookies = httpx.Cookies(sso_pages[0].cookies)
        token = _create_token(sso_pages[0])
        for client in sso_api:
            client.headers["Authorization"] = f"Bearer {token}"
        say(f"sign-in: {USER} has a session cookie and a catalog:read token")

        entity = _entity_path(off_api[0])
        requests = {
            "GET /catalog?kind=component": ("page", "/catalog?kind=component"),
            f"GET {entity}": ("page", entity),
            "GET /api/v1/entities?kind=api": ("api", "/api/v1/entities?kind=api"),
        }
        pools = {("off", "page"): off_pages, ("off", "api"): off_api}
        pools |= {("sso", "page"): sso_pages, ("sso", "api"): sso_api}
        variants = [
            Variant(request, server, path, pools[server, kind])
            for request, (kind, path) in requests.items()
            for server in SERVERS
        ]
        _check(variants, bases["sso"])

        say(f"ask: {WARMUP} warm-up rounds, then {args.requests:,} timed rounds of six, one by one")
        _sequential(variants, args.requests, args.seed)
        if args.concurrency:
            bursts = max(1, args.requests // (args.concurrency * BURST))
            say(f"ask: {bursts} bursts per row of {args.concurrency} threads x {BURST} requests")
            _concurrent(variants, args.concurrency, bursts, args.seed)
        for name, (server, *_rest) in starting.items():
            if server.poll() is not None:
                raise BenchError(f"the {SERVERS[name]} server exited with {server.returncode}")
        return {
            "requests": {
                name: {"kind": kind, "path": path} for name, (kind, path) in requests.items()
            },
            "variants": variants,
        }


def _start(
    root: Path, state: Path, extra: dict[str, str]
) -> tuple[subprocess.Popen[bytes], Path, int, float]:
    """``portal serve`` on a free port with a fresh database and only our PORTAL_* variables."""
    state.mkdir(parents=True)
    log = state / "serve.log"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env |= {"PORTAL_DATA_DIR": str(state / "data"), "PORTAL_CATALOG_PATHS": json.dumps([PATTERN])}
    command = [sys.executable, "-m", "portal", "serve", "--root", str(root)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-build"]
    with log.open("wb") as out:
        started = time.perf_counter()
        server = subprocess.Popen(command, cwd=root, env=env | extra, stdout=out, stderr=out)
    return server, log, port, started


def _sign_in(browser: httpx.Client, provider: OidcProvider, base: str) -> None:
    try:
        done = sign_in(browser, provider, USER, next_path="/catalog")
    except AssertionError as exc:  # a step of the dance answered otherwise than it should
        raise BenchError(f"signing in at {base} failed: {exc}") from None
    if done.status_code != 303 or "portal_session" not in browser.cookies:
        raise BenchError(f"signing in at {base} failed ({done.status_code}): {done.text[:500]}")


def _create_token(browser: httpx.Client) -> str:
    """A personal catalog:read token, made on the admin page as a person would."""
    form = browser.get("/admin/tokens")
    csrf = _CSRF.search(form.text)
    if form.status_code != 200 or csrf is None:
        raise BenchError(f"GET /admin/tokens answered {form.status_code} without a CSRF field")
    data = {"name": "bench auth", "scopes": "catalog:read", "days": "1", "csrf": csrf.group(1)}
    created = browser.post("/admin/tokens", data=data)
    token = _TOKEN.search(created.text)
    if created.status_code != 201 or token is None:
        raise BenchError(f"POST /admin/tokens answered {created.status_code}: {created.text[:500]}")
    return token.group(0)


def _entity_path(api: httpx.Client) -> str:
    answer = _get(api, "/api/v1/entities?kind=component&limit=1").json()
    if not answer["items"]:
        raise BenchError("the served catalog has no component")
    item = answer["items"][0]
    metadata = item["metadata"]
    return (
        f"/catalog/{item['kind'].lower()}/{metadata.get('namespace', 'default')}/{metadata['name']}"
    )


def _check(variants: list[Variant], sso_base: str) -> None:
    """Both servers answer every row, and the sso server really asks for credentials."""
    for variant in variants:
        _get(variant.clients[0], variant.path)
    with httpx.Client(base_url=sso_base, timeout=60.0) as stranger:
        for variant in variants:
            if variant.server != "sso":
                continue
            answer = stranger.get(variant.path)
            if answer.status_code not in (303, 401):
                raise BenchError(
                    f"single sign-on: GET {variant.path} without a credential answered "
                    f"{answer.status_code}, not a refusal"
                )
    page = next(v for v in variants if v.server == "sso" and v.path.startswith("/catalog?"))
    if USERS[USER]["name"] not in _get(page.clients[0], page.path).text:
        raise BenchError(f"single sign-on: GET {page.path} does not show the signed-in user")


# -- asking ------------------------------------------------------------------------------


def _get(client: httpx.Client, path: str) -> httpx.Response:
    response = client.get(path)
    if response.status_code != 200:
        raise BenchError(
            f"GET {response.url} answered {response.status_code}: {response.text[:500]}"
        )
    return response


def _sequential(variants: list[Variant], rounds: int, seed: int) -> None:
    shuffle = random.Random(seed).shuffle
    for n in range(WARMUP + rounds):
        # A new order each round: a row's time must not depend on which row went before.
        order = variants.copy()
        shuffle(order)
        for variant in order:
            started = time.perf_counter()
            response = _get(variant.clients[0], variant.path)
            elapsed = time.perf_counter() - started
            if n >= WARMUP:
                variant.times.append(elapsed)
                variant.sizes.append(len(response.content))


def _concurrent(variants: list[Variant], threads: int, bursts: int, seed: int) -> None:
    shuffle = random.Random(seed + 1).shuffle

    def burst(client: httpx.Client, path: str) -> None:
        for _ in range(BURST):
            _get(client, path)

    with ThreadPoolExecutor(threads) as pool:
        for n in range(bursts + 1):  # the first burst is a warm-up: new connections
            order = variants.copy()
            shuffle(order)
            for variant in order:
                started = time.perf_counter()
                futures = [pool.submit(burst, c, variant.path) for c in variant.clients[:threads]]
                for future in futures:
                    future.result()
                if n:
                    variant.bursts.append((threads * BURST, time.perf_counter() - started))


# -- figures ------------------------------------------------------------------------------


def _figures(
    run: dict[str, Any],
    corpus: dict[str, Any],
    args: argparse.Namespace,
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for name, request in run["requests"].items():
        stats = {v.server: _stats(v) for v in run["variants"] if v.request == name}
        off, sso = stats["off"], stats["sso"]
        rows[name] = {
            **request,
            "credential": CREDENTIAL[request["kind"]],
            "servers": stats,
            "cost": 1 - sso["rps"] / off["rps"],
            "added_mean_s": sso["mean_s"] - off["mean_s"],
            "added_p50_s": sso["p50_s"] - off["p50_s"],
            "p95_ratio": sso["p95_s"] / off["p95_s"],
            "cost_concurrent": (
                1 - sso["rps_concurrent"] / off["rps_concurrent"]
                if off["rps_concurrent"] is not None and sso["rps_concurrent"] is not None
                else None
            ),
        }
    pages = {name: row["cost"] for name, row in rows.items() if row["kind"] == "page"}
    return {
        "entities": corpus["entities"],
        "files": corpus["files"],
        "requests": args.requests,
        "warmup": WARMUP,
        "concurrency": args.concurrency,
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "rows": rows,
        "goal": {
            "max_cost": GOAL,
            "judged": "page requests, one at a time",
            "met": all(cost < GOAL for cost in pages.values()),
            "worst": max(pages, key=lambda name: pages[name]),
        },
    }


def _stats(variant: Variant) -> dict[str, Any]:
    times = sorted(variant.times)
    mean = statistics.fmean(times)
    done = sum(n for n, _ in variant.bursts)
    seconds = sum(s for _, s in variant.bursts)
    return {
        "requests": len(times),
        "mean_s": mean,
        "rps": 1 / mean,
        "p50_s": statistics.median(times),
        "p95_s": _percentile(times, 95),
        "max_s": times[-1],
        "bytes_median": int(statistics.median(variant.sizes)),
        "requests_concurrent": done,
        "rps_concurrent": done / seconds if seconds else None,
    }


def report(figures: dict[str, Any]) -> str:
    """The figures as a table, each authenticated row under its auth-disabled baseline."""
    threads = figures["concurrency"]
    lines = [
        f"auth overhead: two portal servers side by side on {figures['entities']:,} entities in "
        f"{figures['files']:,} files; {figures['requests']:,} timed requests per row one at a "
        f"time after {figures['warmup']} warm-up rounds, all rows interleaved in random order",
        f"  off: {SERVERS['off']};  sso: {SERVERS['sso']}, with a session cookie (pages) or a "
        "catalog:read API token (API)",
        "",
    ]
    together = (f"req/s x{threads}",) if threads else ()
    header = ("", "server", "req/s", "p50", "p95", "max", *together, "size", "auth cost")
    header += (*([f"cost x{threads}"] if threads else []), "p50 sso-off", "p95 sso/off")
    table = [header]
    for name, row in figures["rows"].items():
        for server in SERVERS:
            stats = row["servers"][server]
            cells = (
                name if server == "off" else "",
                server if server == "off" else f"sso ({row['credential']})",
                f"{stats['rps']:.1f}",
                _ms(stats["p50_s"]),
                _ms(stats["p95_s"]),
                _ms(stats["max_s"]),
                *([f"{stats['rps_concurrent']:.1f}"] if threads else []),
                f"{stats['bytes_median'] / 1024:.1f} KiB",
            )
            if server == "off":
                cells += ("",) * (len(header) - len(cells))
            else:
                cells += (
                    f"{row['cost']:+.1%} ({row['added_mean_s'] * 1000:+.2f} ms)",
                    *([f"{row['cost_concurrent']:+.1%}"] if threads else []),
                    f"{row['added_p50_s'] * 1000:+.2f} ms",
                    f"{row['p95_ratio']:.2f}x",
                )
            table.append(cells)
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(row[2:], widths[2:], strict=True)]
        lines.append("  ".join(cells).rstrip())

    goal = figures["goal"]
    costs = {
        kind: ", ".join(
            f"{name} {row['cost']:+.1%}"
            for name, row in figures["rows"].items()
            if row["kind"] == kind
        )
        for kind in CREDENTIAL
    }
    verdict = "met" if goal["met"] else "NOT met"
    before = " ".join(f"{x:.2f}" for x in figures["load_average_before"])
    after = " ".join(f"{x:.2f}" for x in figures["load_average_after"])
    lines += [
        "",
        f"goal: auth costs under {GOAL:.0%} of throughput (pages, req/s one at a time): "
        f"{verdict} ({costs['page']})",
        f"      API, shown beside it: {costs['api']}",
        "* auth cost: 1 - (sso req/s / off req/s), and the mean time auth adds per request "
        "(p50 sso-off: the same at the median, steadier on a busy machine)"
        + (
            f"; x{threads}: {threads} threads asking at once (one client process: it shares "
            "the machine with both servers)"
            if threads
            else ""
        ),
        f"machine: {figures['cpus']} CPUs, load average {before} before, {after} after",
    ]
    return "\n".join(lines)
