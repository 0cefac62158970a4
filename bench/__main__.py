"""Run one benchmark: ``python -m bench <name> [options]``; ``<name> --help`` lists its options."""

from __future__ import annotations

import importlib
import sys

# Benchmark name -> module with ``main(argv: list[str]) -> int``; imported only when chosen.
BENCHMARKS: dict[str, str] = {
    "api": "bench.catalog_api",
    "auth": "bench.auth_overhead",
    "catalog": "bench.catalog_load",
    "docs": "bench.docs_build",
    "load": "bench.load",
    "scorecards": "bench.scorecards",
    "search": "bench.search",
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in BENCHMARKS:
        names = ", ".join(sorted(BENCHMARKS))
        print(f"usage: python -m bench <name> [options]  (names: {names})", file=sys.stderr)
        return 0 if args and args[0] in ("-h", "--help") else 2
    module = importlib.import_module(BENCHMARKS[args[0]])
    return int(module.main(args[1:]))


if __name__ == "__main__":
    sys.exit(main())
