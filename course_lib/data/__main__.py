"""``python -m course_lib.data list|fetch NAME|verify`` — inspect, download or verify registered datasets."""
from __future__ import annotations

import argparse

from course_lib.data import ChecksumMismatch, DataUnavailable, availability, entry, fetch, registry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.data", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="datasets and where they are found")
    get = sub.add_parser("fetch", help="fetch (and verify) one dataset or 'all'")
    get.add_argument("name")
    sub.add_parser("verify", help="check the sha256 of every cached or mirrored dataset (bad cache files are "
                                  "moved aside and fetched again)")
    args = parser.parse_args(argv)
    if args.cmd == "list":
        for name, where in availability().items():
            e = entry(name)
            print(f"{name:24s} {where:8s} {len(e['files']):5d} files  {e['title']}")
    elif args.cmd == "verify":
        bad = 0
        for name, where in availability().items():
            if where == "missing":
                continue
            try:
                print(f"{name:24s} ok      {fetch(name)}")
            except (ChecksumMismatch, DataUnavailable) as exc:
                bad += 1
                print(f"{name:24s} FAILED  {exc}")
        return 1 if bad else 0
    else:
        names = sorted(registry()) if args.name == "all" else [args.name]
        for name in names:
            print(f"{name}: {fetch(name)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
