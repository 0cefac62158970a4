"""How long ``portal build`` of every audience takes next to a plain ``mkdocs build``, in one run.

Baseline (a): ``mkdocs build`` of the generated pages as one plain Material
site (the same theme and Markdown settings, navigation from the folder tree).
Then ``portal build`` of every audience from the same pages: (b) cold, with no
render cache and no previous sites; (c) after appending a paragraph to one
page; (d) again with nothing changed. Each runs in a fresh process, timed from
start to exit, while the memory of its whole process tree is sampled from
/proc. Goals, set for 3,000 pages: (b) <= a quarter of (a), (c) under 3 s, and
peak memory under 1 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.docs_corpus import AUDIENCES, generate_docs_repo
from portal.model import load_model
from portal.settings import Settings

GOAL_RATIO = 0.25
GOAL_REBUILD_S = 3.0
GOAL_MEMORY_BYTES = 1024**3
MANIFEST = "docs-corpus.json"
SAMPLE_EVERY_S = 0.05
PSS_EVERY = 4  # samples
MIB = 1024 * 1024
# portal build's line per site on stderr: "<audience> <pages> pages <seconds> s (<mode>) <path>"
_SITE_LINE = re.compile(
    r"^(\S+)\s+(\d+) pages\s+([\d.]+) s\s+\((full|incremental|unchanged)\)\s+(.+)$"
)
_EDIT = (
    "\n\nThis paragraph was added by the benchmark's one-page edit: an incremental "
    "rebuild should render little more than this page.\n"
)


@dataclass(slots=True)
class Run:
    """One build in a fresh process: its time from start to exit and its memory."""

    seconds: float
    returncode: int
    peak_rss_sum_bytes: int = 0  # largest sum of VmRSS over the process tree at one sample
    peak_pss_sum_bytes: int = 0  # the same with PSS, which splits shared pages between sharers
    largest_process_bytes: int = 0  # largest VmHWM (own peak RSS) of any one process
    processes: int = 0
    samples: int = 0
    sampler_cpu_s: float = 0.0
    sites: list[dict[str, Any]] = field(default_factory=list)
    reported_seconds: float | None = None  # what portal build says it took
    stderr_tail: str = ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench docs", description=__doc__)
    parser.add_argument("--pages", type=int, default=3000, help="docs pages to generate")
    parser.add_argument("--entities", type=int, default=500, help="catalog entities")
    parser.add_argument("--openapi", type=int, default=20, help="extra OpenAPI documents")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated repository")
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="generate into DIR once, and reuse it after"
    )
    parser.add_argument(
        "--skip-baseline", action="store_true", help="leave out (a), for quick iterations"
    )
    parser.add_argument(
        "--skip-pruned",
        action="store_true",
        help="leave out (a'), the plain site with the portal's theme features",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.keep is not None:
        return _run(args, args.keep.resolve())
    with tempfile.TemporaryDirectory(prefix="bench-docs-") as tmp:
        return _run(args, Path(tmp))


def _run(args: argparse.Namespace, work: Path) -> int:
    say = _printer(args.json)
    root = work / "repo"
    try:
        corpus = _corpus(root, args, say)
    except (FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model = load_model(Settings(root=root))
    errors, warnings = len(model.report.errors), len(model.report.warnings)
    say(
        f"check: load_model read {len(model.docs):,} pages and {len(model.catalog):,} entities: "
        f"{errors} errors, {warnings} warnings"
    )
    if errors:
        for problem in model.report.sorted()[:20]:
            print(problem.format(), file=sys.stderr)
        print("error: the generated repository must load with no errors", file=sys.stderr)
        return 1
    del model

    load_before = os.getloadavg()
    baseline: Run | None = None
    if not args.skip_baseline:
        say("(a) mkdocs build of the plain site ...")
        baseline_out = work / "baseline-site"
        shutil.rmtree(baseline_out, ignore_errors=True)
        command = [sys.executable, "-m", "mkdocs", "build", "-q"]
        config = root / corpus["baseline_config"]
        baseline = _measure([*command, "-f", str(config), "-d", str(baseline_out)])
        if baseline.returncode:
            return _failed("mkdocs build", baseline)
        say(f"    {baseline.seconds:.1f} s, {_html_pages(baseline_out):,} HTML pages")
    pruned: Run | None = None
    if not args.skip_baseline and not args.skip_pruned:
        say("(a') mkdocs build of the plain site with the portal's theme features ...")
        pruned_out = work / "baseline-pruned-site"
        shutil.rmtree(pruned_out, ignore_errors=True)
        config = root / corpus["pruned_baseline_config"]
        pruned = _measure([*command, "-f", str(config), "-d", str(pruned_out)])
        if pruned.returncode:
            return _failed("mkdocs build (pruned)", pruned)
        say(f"    {pruned.seconds:.1f} s, {_html_pages(pruned_out):,} HTML pages")

    out = work / "sites"
    shutil.rmtree(root / ".cache", ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    portal = [sys.executable, "-m", "portal", "build", "--root", str(root), "--out", str(out)]
    edited = root / "docs" / corpus["edit_page"]
    original = edited.read_bytes()
    runs: dict[str, Run] = {}
    try:
        for name, label, change in (
            ("cold", "(b) portal build, cold", None),
            ("edit", f"(c) portal build after editing {corpus['edit_page']}", _EDIT),
            ("warm", "(d) portal build with nothing changed", None),
        ):
            say(f"{label} ...")
            if change:
                edited.write_bytes(original + change.encode("utf-8"))
            run = _measure(portal)
            if run.returncode:
                return _failed("portal build", run)
            say(f"    {run.seconds:.1f} s")
            runs[name] = run
    finally:
        edited.write_bytes(original)
    missing = [a for a in AUDIENCES if not (out / a / "index.html").is_file()]
    if missing:
        print(f"error: portal build left out {', '.join(missing)}", file=sys.stderr)
        return 1

    figures = _figures(corpus, baseline, runs, load_before, os.getloadavg())
    figures["baseline_pruned"] = asdict(pruned) if pruned else None
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(_table(figures))
        if pruned and baseline:
            cold = runs["cold"].seconds
            print(
                f"(a') the same plain site with the portal's theme features (navigation.prune): "
                f"{pruned.seconds:.1f} s; (b) is {cold / pruned.seconds:.2f}x of it"
            )
    return 0


def _printer(quiet: bool) -> Callable[[str], None]:
    # With --json, stdout holds the JSON alone; progress goes to stderr.
    stream = sys.stderr if quiet else sys.stdout
    return lambda text: print(text, file=stream, flush=True)


def _corpus(root: Path, args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    wanted = {"pages": args.pages, "entities": args.entities, "openapi": args.openapi}
    manifest = root.parent / MANIFEST
    if manifest.is_file():
        corpus: dict[str, Any] = json.loads(manifest.read_text(encoding="utf-8"))
        made = corpus["asked"] | {"seed": corpus["seed"]}
        if made != wanted | {"seed": args.seed}:
            raise FileExistsError(
                f"{root.parent} holds a repository made with {made}, not "
                f"{wanted | {'seed': args.seed}}; use another --keep DIR"
            )
        say(f"corpus: reusing {root}")
    else:
        started = time.perf_counter()
        corpus = generate_docs_repo(root, seed=args.seed, **wanted)
        corpus["asked"] = wanted
        manifest.write_text(json.dumps(corpus, indent=2) + "\n", encoding="utf-8")
        say(f"corpus: generated in {time.perf_counter() - started:.1f} s")
    say(
        f"corpus: {corpus['pages']:,} pages in {corpus['sections']} sections "
        f"({corpus['folders']} folders, {len(corpus['partner_pages'])} partner pages), "
        f"{corpus['entities']:,} entities of which {corpus['openapi']} OpenAPI documents "
        f"({corpus['operations']:,} operations, {corpus['public_openapi']} public), "
        f"{corpus['bytes'] / MIB:.1f} MiB, seed {corpus['seed']}"
    )
    return corpus


def _failed(what: str, run: Run) -> int:
    print(f"error: {what} exited with {run.returncode}:\n{run.stderr_tail}", file=sys.stderr)
    return 1


def _html_pages(site: Path) -> int:
    return sum(1 for _ in site.rglob("*.html"))


# -- one build in a fresh process, its memory sampled -------------------------


def _measure(command: list[str]) -> Run:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's notice, on every run
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    sampler = _Sampler(process.pid)
    thread = threading.Thread(target=sampler.run, daemon=True)
    thread.start()
    _stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    sampler.stop.set()
    thread.join()
    run = Run(
        seconds=seconds,
        returncode=process.returncode,
        peak_rss_sum_bytes=sampler.peak_rss,
        peak_pss_sum_bytes=sampler.peak_pss,
        largest_process_bytes=max(sampler.hwm.values(), default=0),
        processes=len(sampler.hwm),
        samples=sampler.samples,
        sampler_cpu_s=sampler.cpu,
        stderr_tail="\n".join(stderr.splitlines()[-20:]),
    )
    for line in stderr.splitlines():
        match = _SITE_LINE.match(line.strip())
        if match:
            audience, pages, site_seconds, mode, _path = match.groups()
            run.sites.append(
                {"audience": audience, "pages": int(pages), "seconds": float(site_seconds)}
                | {"mode": mode}
            )
        elif line.startswith("built ") and line.rstrip().endswith(" s"):
            run.reported_seconds = float(line.split()[-2])
    return run


class _Sampler:
    """Reads the memory of a process and all its descendants from /proc.

    RSS every 50 ms; the process list and PSS, which cost the kernel a walk
    over each process's memory map, every fourth time, so that the sampler
    takes little of the CPU the build is timed on.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.stop = threading.Event()
        self.peak_rss = 0
        self.peak_pss = 0
        self.hwm: dict[int, int] = {}
        self.samples = 0
        self.cpu = 0.0

    def run(self) -> None:
        started = time.thread_time()
        pids = [self.pid]
        while not self.stop.is_set():
            full = self.samples % PSS_EVERY == 0
            if full:
                pids = _tree(self.pid)
            rss = pss = 0
            for pid in pids:
                status = _status(pid)
                if not status:
                    continue
                rss += status.get("VmRSS", 0)
                self.hwm[pid] = max(self.hwm.get(pid, 0), status.get("VmHWM", 0))
                if full:
                    pss += _pss(pid)
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.samples += 1
            self.cpu = time.thread_time() - started
            self.stop.wait(SAMPLE_EVERY_S)


def _tree(root: int) -> list[int]:
    """``root`` and every process below it (no /proc/<pid>/task/*/children here)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in bytes; empty once it has gone."""
    values: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value, _unit = line.split()
                    values[key[:-1]] = int(value) * 1024
    except OSError:
        return {}
    return values


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# -- the report -----------------------------------------------------------------


def _figures(
    corpus: dict[str, Any],
    baseline: Run | None,
    runs: dict[str, Run],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> dict[str, Any]:
    cold, edit = runs["cold"], runs["edit"]
    peak = max(run.peak_rss_sum_bytes for run in runs.values())
    figures: dict[str, Any] = {
        "corpus": {key: value for key, value in corpus.items() if key != "partner_pages"}
        | {"partner_pages": len(corpus["partner_pages"])},
        "cpus": os.cpu_count(),
        "load_average_1m": {"before": load_before[0], "after": load_after[0]},
        "baseline": asdict(baseline) if baseline else None,
        "portal": {name: asdict(run) for name, run in runs.items()},
        "goals": {
            "ratio": {
                "max": GOAL_RATIO,
                "value": cold.seconds / baseline.seconds if baseline else None,
                "met": cold.seconds / baseline.seconds <= GOAL_RATIO if baseline else None,
            },
            "rebuild_s": {
                "max": GOAL_REBUILD_S,
                "value": edit.seconds,
                "met": edit.seconds < GOAL_REBUILD_S,
            },
            "memory_bytes": {
                "max": GOAL_MEMORY_BYTES,
                "value": peak,
                "judged_on": "largest sum of VmRSS over portal build's process tree",
                "met": peak < GOAL_MEMORY_BYTES,
            },
        },
    }
    return figures


def _table(figures: dict[str, Any]) -> str:
    corpus, goals = figures["corpus"], figures["goals"]
    base, portal = figures["baseline"], figures["portal"]
    rows: list[tuple[str, ...]] = [
        ("", "time", "peak RSS, tree*", "peak PSS, tree*", "largest process", "processes"),
    ]
    if base:
        rows.append(("(a) mkdocs build, one plain site", *_cells(base)))
    labels = {
        "cold": "(b) portal build, cold, every audience",
        "edit": "(c) portal build after a one-page edit",
        "warm": "(d) portal build, nothing changed",
    }
    rows += [(labels[name], *_cells(run)) for name, run in portal.items()]
    lines = [
        f"docs build: {corpus['pages']:,} pages in {corpus['sections']} sections "
        f"({corpus['partner_pages']} partner pages), {corpus['entities']:,} entities incl. "
        f"{corpus['openapi']} OpenAPI documents ({corpus['operations']:,} operations); "
        f"{figures['cpus']} CPUs, 1-minute load {figures['load_average_1m']['before']:.2f} "
        f"before, {figures['load_average_1m']['after']:.2f} after",
        "",
    ]
    lines += _aligned(rows)
    lines += [
        "",
        "sites, as portal build reports them (its pages include the generated catalog pages):",
        "",
    ]
    by_run = {name: {s["audience"]: s for s in run["sites"]} for name, run in portal.items()}
    site_rows: list[tuple[str, ...]] = [
        ("audience", "docs pages", "site pages", "(b)", "(c)", "(d)")
    ]
    for audience in AUDIENCES:
        cold = by_run["cold"].get(audience, {})
        site_rows.append(
            (
                audience,
                f"{corpus['audience_pages'].get(audience, 0):,}",
                f"{cold.get('pages', 0):,}",
                *(_site_time(by_run[name].get(audience)) for name in ("cold", "edit", "warm")),
            )
        )
    lines += _aligned(site_rows, indent="  ")
    lines.append("")
    ratio = goals["ratio"]
    if ratio["value"] is None:
        lines.append(f"goal (b) <= {GOAL_RATIO:.2f} x (a): not judged, the baseline was skipped")
    else:
        lines.append(
            f"goal (b) <= {GOAL_RATIO:.2f} x (a): {_verdict(ratio['met'])} "
            f"({ratio['value']:.2f}x: {portal['cold']['seconds']:.1f} s vs {base['seconds']:.1f} s)"
        )
    rebuild = goals["rebuild_s"]
    lines.append(
        f"goal (c) < {GOAL_REBUILD_S:.0f} s: {_verdict(rebuild['met'])} ({rebuild['value']:.2f} s)"
    )
    memory = goals["memory_bytes"]
    lines.append(
        f"goal peak memory < {GOAL_MEMORY_BYTES / MIB:,.0f} MiB: {_verdict(memory['met'])} "
        f"({memory['value'] / MIB:,.0f} MiB, the {memory['judged_on']}, over (b)-(d))"
    )
    reported = ", ".join(
        f"{name} {run['reported_seconds']:.1f} s"
        for name, run in portal.items()
        if run["reported_seconds"] is not None
    )
    sampler = [*([base] if base else []), *portal.values()]
    lines += [
        "",
        f"portal build's own 'built ... in' time (no interpreter start-up or imports): {reported}",
        f"the sampler read /proc {sum(r['samples'] for r in sampler):,} times, using "
        f"{sum(r['sampler_cpu_s'] for r in sampler):.1f} s of CPU over the whole run",
        "* sampled from /proc over the build's whole process tree, RSS every 50 ms, PSS every "
        "200 ms; RSS counts pages shared by forked workers once per process (it errs high), "
        "PSS splits them between the sharers; 'largest process' is the highest VmHWM (own peak "
        "RSS) of any one process",
    ]
    if corpus["pages"] != 3000:
        lines.append("the goals are set for 3,000 pages; this run had " + f"{corpus['pages']:,}")
    return "\n".join(lines)


def _aligned(rows: list[tuple[str, ...]], indent: str = "") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent
        + "  ".join(
            [
                row[0].ljust(widths[0]),
                *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)),
            ]
        ).rstrip()
        for row in rows
    ]


def _site_time(site: dict[str, Any] | None) -> str:
    if site is None:
        return "-"
    if site["mode"] == "unchanged":
        return "unchanged"
    return f"{site['seconds']:.1f} s {site['mode']}"


def _cells(run: dict[str, Any]) -> tuple[str, ...]:
    return (
        f"{run['seconds']:.2f} s",
        f"{run['peak_rss_sum_bytes'] / MIB:,.0f} MiB",
        f"{run['peak_pss_sum_bytes'] / MIB:,.0f} MiB",
        f"{run['largest_process_bytes'] / MIB:,.0f} MiB",
        str(run["processes"]),
    )


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"
