"""``python -m course_lib.data list|fetch NAME|verify`` — inspect, download or verify registered datasets."""
from __future__ import annotations

import argparse

from course_lib.data import availability, entry, fetch, registry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.data", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="datasets and where they are found")
    get = sub.add_parser("fetch", help="fetch (and verify) one dataset or 'all'")
    get.add_argument("name")
    args = parser.parse_args(argv)
    if args.cmd == "list":
        for name, where in availability().items():
            e = entry(name)
            print(f"{name:24s} {where:8s} {len(e['files']):5d} files  {e['title']}")
    else:
        names = sorted(registry()) if args.name == "all" else [args.name]
        for name in names:
            print(f"{name}: {fetch(name)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
