"""``make bench``: run every ``benchmarks/bench_*.py`` (their ``main(quick)`` returns markdown) into one report."""
from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (a few seconds each)")
    parser.add_argument("--out", default="build/bench.md")
    parser.add_argument("--only", action="append", help="run only these bench_<name>.py (repeatable)")
    args = parser.parse_args()
    parts = ["# Benchmarks (ratios against peers measured in the same run)\n"]
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if args.only and name not in args.only:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        t0 = time.perf_counter()
        print(f"running {path.name} ...", flush=True)
        parts.append(module.main(quick=args.quick) + f"\n_{path.name}: {time.perf_counter() - t0:.0f} s_\n")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(parts))
    print("\n".join(parts))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
