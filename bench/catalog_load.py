"""How much the full catalog load costs next to a raw YAML parse of the same files, in one run.

Baseline: find the catalog files (the same glob), read each and parse it with
PyYAML's C loader, nothing else. Full: ``load_catalog`` (read, parse within
limits, validate, relate, run the plugin hooks). The goal is full <= 2x
baseline. Times alternate between the two so drift in the machine hits both;
memory is measured in separate passes, because tracemalloc slows what it traces.
"""

from __future__ import annotations

import argparse
import gc
import glob
import json
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import yaml

from bench.corpus import generate_catalog
from portal.catalog import LoadResult, load_catalog
from portal.settings import Settings

PATTERN = "catalog/**/*.yaml"
GOAL = 2.0
MANIFEST = "corpus.json"
MIB = 1024 * 1024


def parse_baseline(root: Path, pattern: str = PATTERN) -> list[list[Any]]:
    """Every document of every file matching ``pattern``: read, decode, C-parse, nothing else."""
    files = sorted(glob.glob(str(root / pattern), recursive=True))
    return [
        list(yaml.load_all(Path(file).read_bytes().decode("utf-8"), Loader=yaml.CSafeLoader))
        for file in files
    ]


def load_full(root: Path, pattern: str = PATTERN) -> LoadResult:
    """The catalog as the portal loads it: validated, related, checked by plugins."""
    return load_catalog(Settings(root=root, catalog_paths=[pattern]))


APPROACHES: dict[str, Callable[[Path, str], Any]] = {
    "baseline": parse_baseline,
    "full": load_full,
}


def main(argv: list[str] | None = None) -> int:
    return corpus_main(argv, "catalog", __doc__, _run)


def corpus_main(
    argv: list[str] | None,
    name: str,
    description: str | None,
    run: Callable[[argparse.Namespace, Path, dict[str, Any], Callable[[str], None]], int],
) -> int:
    """The command line of a benchmark on the generated catalog: its options, the corpus
    generated (or reused with --keep), then ``run(args, root, corpus, say)``."""
    parser = argparse.ArgumentParser(prog=f"python -m bench {name}", description=description)
    parser.add_argument("--entities", type=int, default=10_000, help="entities to generate")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (best, median)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated corpus")
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="generate into DIR once, and reuse it after"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    def in_corpus(root: Path) -> int:
        say = _printer(args.json)
        try:
            corpus = _corpus(root, args.entities, args.seed, say)
        except (FileExistsError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return run(args, root, corpus, say)

    if args.keep is not None:
        return in_corpus(args.keep)
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        return in_corpus(Path(tmp))


def _run(
    args: argparse.Namespace, root: Path, corpus: dict[str, Any], say: Callable[[str], None]
) -> int:

    # The check is also the warm-up: imports done, every file in the page cache.
    check = load_full(root)
    errors, warnings = len(check.report.errors), len(check.report.warnings)
    say(
        f"check: load_catalog read {check.files:,} files, {len(check.catalog):,} entities, "
        f"{errors} errors, {warnings} warnings"
    )
    if errors or warnings or len(check.catalog) != corpus["entities"]:
        for problem in check.report.sorted()[:20]:
            print(problem.format(), file=sys.stderr)
        print("error: the generated corpus must load with no problems", file=sys.stderr)
        return 1
    del check

    times = _time(root, args.repeat)
    peaks = {name: _traced_peak(approach, root) for name, approach in APPROACHES.items()}
    rss = {name: _fresh_process_rss(name, root) for name in APPROACHES}
    figures = _figures(corpus, args.repeat, times, peaks, rss)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(_table(figures))
    return 0


def _printer(quiet: bool) -> Callable[[str], None]:
    # With --json, stdout holds the JSON alone; progress goes to stderr.
    stream = sys.stderr if quiet else sys.stdout
    return lambda text: print(text, file=stream, flush=True)


def _corpus(root: Path, entities: int, seed: int, say: Callable[[str], None]) -> dict[str, Any]:
    manifest = root / MANIFEST
    if manifest.is_file():
        corpus: dict[str, Any] = json.loads(manifest.read_text(encoding="utf-8"))
        if corpus.get("entities") != entities or corpus.get("seed") != seed:
            raise FileExistsError(
                f"{root} holds a corpus of {corpus.get('entities')} entities (seed "
                f"{corpus.get('seed')}), not {entities} (seed {seed}); use another --keep DIR"
            )
        say(f"corpus: reusing {root}")
    else:
        root.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        corpus = generate_catalog(root, entities, seed)
        manifest.write_text(json.dumps(corpus, indent=2) + "\n", encoding="utf-8")
        say(f"corpus: generated in {time.perf_counter() - started:.1f} s")
    kinds = ", ".join(f"{count:,} {kind}" for kind, count in corpus["kinds"].items())
    say(
        f"corpus: {corpus['entities']:,} entities ({kinds}) in {corpus['files']:,} files "
        f"({corpus['multi_document_files']:,} with several documents), "
        f"{corpus['bytes'] / MIB:.1f} MiB, seed {corpus['seed']}"
    )
    return corpus


def _time(root: Path, repeat: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in APPROACHES}
    order = list(APPROACHES)
    for run in range(repeat):
        for name in order if run % 2 == 0 else order[::-1]:
            gc.collect()
            started = time.perf_counter()
            result = APPROACHES[name](root, PATTERN)
            times[name].append(time.perf_counter() - started)
            del result  # freed outside the timed part
    return times


def _traced_peak(approach: Callable[[Path, str], Any], root: Path) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        result = approach(root, PATTERN)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return peak


def _max_rss() -> int:
    """This process's peak resident memory, as ``getrusage`` reports it, in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux counts KiB


def _own_peak_rss() -> int:
    """This process's own peak resident memory, in bytes.

    On Linux, ``ru_maxrss`` carries a parent's peak over fork and exec, so a
    fresh child would report the benchmark's own peak; ``VmHWM`` is the child's.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # no /proc: not Linux, where ru_maxrss is the process's own
        pass
    return _max_rss()


def _run_once_for_rss(name: str, root: str) -> tuple[int, int]:
    before = _own_peak_rss()
    APPROACHES[name](Path(root), PATTERN)
    return before, _own_peak_rss()


def _fresh_process_rss(name: str, root: Path) -> tuple[int, int]:
    """Peak RSS of a new interpreter before and after running ``name`` once."""
    # One process per approach, because a peak only ever grows.
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_run_once_for_rss, name, str(root)).result()


def _figures(
    corpus: dict[str, Any],
    repeat: int,
    times: dict[str, list[float]],
    peaks: dict[str, int],
    rss: dict[str, tuple[int, int]],
) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "entities": corpus["entities"],
        "files": corpus["files"],
        "multi_document_files": corpus["multi_document_files"],
        "bytes": corpus["bytes"],
        "kinds": corpus["kinds"],
        "seed": corpus["seed"],
        "repeat": repeat,
    }
    for name in APPROACHES:
        figures[name] = {
            "best_s": min(times[name]),
            "median_s": statistics.median(times[name]),
            "runs_s": times[name],
            "peak_traced_bytes": peaks[name],
            "max_rss_fresh_process_bytes": rss[name][1],
        }
    # Both fresh processes import the same modules before running, so one floor serves.
    figures["max_rss_fresh_process_before_run_bytes"] = max(before for before, _ in rss.values())
    base, full = figures["baseline"], figures["full"]
    figures["ratio"] = {
        "best": full["best_s"] / base["best_s"],
        "median": full["median_s"] / base["median_s"],
        "peak_traced": full["peak_traced_bytes"] / base["peak_traced_bytes"],
        "max_rss_fresh_process": (
            full["max_rss_fresh_process_bytes"] / base["max_rss_fresh_process_bytes"]
        ),
    }
    figures["goal"] = {
        "max_ratio": GOAL,
        "judged_on": "best",
        "met": figures["ratio"]["best"] <= GOAL,
    }
    figures["max_rss_this_process_bytes"] = _max_rss()
    return figures


def _table(figures: dict[str, Any]) -> str:
    base, full, ratio = figures["baseline"], figures["full"], figures["ratio"]
    goal = figures["goal"]
    rows = [
        ("", "best", "median", "peak traced", "max RSS*"),
        ("baseline (read + CSafeLoader)", *_cells(base)),
        ("full (load_catalog)", *_cells(full)),
        (
            "ratio full / baseline",
            f"{ratio['best']:.2f}x",
            f"{ratio['median']:.2f}x",
            f"{ratio['peak_traced']:.2f}x",
            f"{ratio['max_rss_fresh_process']:.2f}x",
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        f"catalog load: {figures['entities']:,} entities in {figures['files']:,} files, "
        f"best and median of {figures['repeat']} alternating runs",
        "",
    ]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    verdict = "met" if goal["met"] else "NOT met"
    lines += [
        "",
        f"goal: full <= {goal['max_ratio']:.1f}x baseline (best vs best): {verdict} "
        f"({ratio['best']:.2f}x)",
        f"runs (s): baseline {_runs(base)} | full {_runs(full)}",
        "* peak RSS of a fresh process running it once; "
        f"{figures['max_rss_fresh_process_before_run_bytes'] / MIB:.1f} MiB of it is the "
        "interpreter and imports",
        f"max RSS of this process over the whole run (getrusage): "
        f"{figures['max_rss_this_process_bytes'] / MIB:.1f} MiB",
    ]
    return "\n".join(lines)


def _cells(approach: dict[str, Any]) -> tuple[str, str, str, str]:
    return (
        f"{approach['best_s']:.3f} s",
        f"{approach['median_s']:.3f} s",
        f"{approach['peak_traced_bytes'] / MIB:.1f} MiB",
        f"{approach['max_rss_fresh_process_bytes'] / MIB:.1f} MiB",
    )


def _runs(approach: dict[str, Any]) -> str:
    return " ".join(f"{t:.3f}" for t in approach["runs_s"])
