"""Build ``course_lib/data/registry.json`` from the read-only dataset mirror.

Usage::

    python -m course_lib.data.build_registry /work/shared/datasets [--out PATH]

Every mirror folder ``<name>/`` has a ``SOURCE.md`` that names the upstream GitHub repository and commit,
carries a licence note and lists the sha256 of every file (as a markdown table or as ``sha256  path``
lines). This script parses those notes, maps each local file to its upstream raw URL with the small
per-dataset ``RULES`` below, and fails loudly unless the mirror and SOURCE.md agree exactly: every file
has an entry, every entry has a file, and every sha256 (and stated byte count) matches.

``SOURCE.md`` itself is recorded too (``url`` null) so the licence note travels with the data.
Standard library only.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import NamedTuple

RAW = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"
SHA256_RE = re.compile(r"[0-9a-f]{64}")
# `sha256  path` lines (sha256sum output; a leading `*` marks binary mode).
SHA_LINE_RE = re.compile(r"^(?P<sha>[0-9a-f]{64})\s+\*?(?P<path>\S.*?)\s*$")
# "repository `owner/repo`, commit `<40 hex>`" in its variants: "Repository: owner/repo\n- Commit: ...",
# "Repository: `owner/repo` (GitHub), commit `...`". Between the two only an optional "(...)" remark and a
# short gap are allowed, so a commit mentioned elsewhere in the text is never picked up.
ORIGIN_RE = re.compile(
    r"repository:?\s+`?(?P<repo>[\w.-]+/[\w.-]+)`?(?:\s*\([^)]*\))?[\s\S]{0,12}?"
    r"commit:?\s+`?(?P<commit>[0-9a-f]{40})\b",
    re.IGNORECASE,
)
LICENCE_RE = re.compile(r"licen[cs]e", re.IGNORECASE)
ITEM_START_RE = re.compile(r"^\s*(?:[-*]|\d+\.)\s+")


class Rule(NamedTuple):
    """Map local paths matching ``pattern`` (full match) to an upstream file of ``repo``.

    ``upstream`` and ``member`` are ``str.format`` templates over the pattern's named groups. With
    ``member`` set, ``upstream`` is the archive the file was unpacked from and ``member`` its path inside.
    """

    pattern: str
    repo: str
    upstream: str
    member: str | None = None
    member_note: str | None = None


ANY = r"(?P<f>.+)"
CONVE = "TimDettmers/ConvE"
KGE = "DeepGraphLearning/KnowledgeGraphEmbedding"
MCNCC = "ErikFaustmann/MCNCC"
GEOM_GCN = "graphdml-uiuc-jlu/geom-gcn"
OTB = "mishless/kalman-filter-project"


def conve_archive(archive: str) -> list[Rule]:
    """Files unpacked from one of ConvE's small ``<name>.tar.gz`` archives.

    The member layout is not stated in SOURCE.md. ConvE's FB15k-237.tar.gz (kept whole in the mirror)
    stores train/valid/test.txt at the archive root, so the same layout is assumed here: "inferred".
    """
    return [Rule(ANY, CONVE, archive, member="{f}", member_note="inferred")]


# Per-dataset local path -> upstream path rules, taken from each SOURCE.md; the first matching rule wins.
RULES: dict[str, list[Rule]] = {
    "cola": [Rule(ANY, "felipefreitas93/NLPdatasets", "CoLA/{f}")],
    "countries": [Rule(ANY, KGE, "data/{f}")],
    "fb15k-237": [
        Rule(r"FB15k-237\.tar\.gz", CONVE, "FB15k-237.tar.gz"),  # archive kept unchanged, not unpacked
        Rule(ANY, KGE, "data/FB15k-237/{f}"),
    ],
    "fid300_mini": [
        Rule(r"tracks_cropped/(?P<f>.+)", MCNCC, "datasets/FID-300/tracks_cropped_Subset/{f}"),
        Rule(r"references/(?P<f>.+)", MCNCC, "datasets/FID-300/Subset/{f}"),
        # SOURCE.md names the file but not its folder; it sits at the repository root.
        Rule(r"label_table\.csv", "seanshnkim/shoeprint_image_retrieval", "label_table.csv"),
    ],
    "geom-gcn": [
        Rule(r"(?P<graph>\w+)/raw/(?P<f>out1_.+\.txt)", GEOM_GCN, "new_data/{graph}/{f}"),
        Rule(r"\w+/raw/(?P<f>\w+_split_.+\.npz)", GEOM_GCN, "splits/{f}"),
    ],
    "kinships": conve_archive("kinship.tar.gz"),
    "mnist-t10k": [Rule(ANY, "vinay030901/PytorchCourse", "MNIST/raw/{f}")],
    "mrpc": [
        # The unmodified upstream train file is the "_backup" one (see SOURCE.md).
        Rule(r"msr_paraphrase_train\.txt", "galsang/ABCNN", "MSRP_Corpus/msr_paraphrase_train_backup.txt"),
        Rule(ANY, "galsang/ABCNN", "MSRP_Corpus/{f}"),
    ],
    "multi30k-task1-en-de": [Rule(ANY, "multi30k/dataset", "data/task1/raw/{f}")],
    "nations": conve_archive("nations.tar.gz"),
    "otb_mini": [
        Rule(r"Jogging/(?P<f>.+)", OTB, "data/jogging/{f}"),  # upstream folder is lower-case
        Rule(ANY, OTB, "data/{f}"),
    ],
    "planetoid": [Rule(r"\w+/raw/(?P<f>ind\..+)", "kimiyoung/planetoid", "data/{f}")],
    "sst2": [Rule(ANY, "forest-snow/alps", "data/SST-2/{f}")],
    "tinyshakespeare": [Rule(ANY, "karpathy/char-rnn", "data/tinyshakespeare/{f}")],
    "totalseg_examples": [Rule(ANY, "wasserth/TotalSegmentator", "tests/reference_files/{f}")],
    "umls": conve_archive("umls.tar.gz"),
    "wn18rr": [
        Rule(r"Wordnet3\.0-LICENSE", KGE, "data/wn18/Wordnet3.0-LICENSE"),
        Rule(ANY, KGE, "data/wn18rr/{f}"),
    ],
}


class RegistryError(RuntimeError):
    """The mirror and its SOURCE.md notes disagree."""


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def parse_title(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    raise RegistryError("no heading line")


def _items(lines: list[str]) -> list[str]:
    """Split markdown lines into paragraphs / list items (continuation lines are joined on)."""
    items: list[list[str]] = []
    fresh = True
    for line in lines:
        if not line.strip() or line.startswith("#"):
            fresh = True
            if line.startswith("#"):
                items.append([line])
            continue
        if fresh or ITEM_START_RE.match(line):
            items.append([])
        items[-1].append(ITEM_START_RE.sub("", line, count=1))
        fresh = False
    return [" ".join(" ".join(item).split()).replace("**", "") for item in items]


def parse_licence(text: str) -> str:
    """The "## Licence" (or "## License ...") section, else the first paragraph/item mentioning a licence."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("##") and LICENCE_RE.search(line):
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("#")), len(lines))
            return " ".join(_items(lines[i + 1:end]))
    for item in _items(lines):
        if not item.startswith("#") and LICENCE_RE.search(item):
            return item
    raise RegistryError("no licence note")


def parse_origins(text: str) -> dict[str, str]:
    """``{owner/repo: commit}`` in order of appearance."""
    origins: dict[str, str] = {}
    for m in ORIGIN_RE.finditer(text):
        if origins.setdefault(m["repo"], m["commit"]) != m["commit"]:
            raise RegistryError(f"two commits for {m['repo']}")
    if not origins:
        raise RegistryError("no 'repository ..., commit ...' line")
    return origins


def parse_checksums(text: str) -> dict[str, tuple[str, int | None]]:
    """``{path: (sha256, stated bytes or None)}`` from markdown tables and ``sha256  path`` lines."""
    stated: dict[str, tuple[str, int | None]] = {}
    header: list[str] = []
    for line in text.splitlines():
        entry = None
        if m := SHA_LINE_RE.match(line):
            entry = m["path"], m["sha"], None
        elif line.lstrip().startswith("|"):
            cells = [c.strip().strip("`").strip() for c in line.strip().strip("|").split("|")]
            sha = next((c for c in cells if SHA256_RE.fullmatch(c)), None)
            if sha is None:
                if any(c.strip("-: ") for c in cells):  # a header row, not the |---| separator
                    header = [c.lower() for c in cells]
                continue
            row = dict(zip(header, cells))
            path = row.get("path") or row.get("file")
            if not path:
                raise RegistryError(f"table row without a path/file column: {line!r}")
            size = row.get("bytes")
            entry = path, sha, int(size.replace(",", "")) if size else None
        if entry:
            path, sha, size = entry
            if path in stated:
                raise RegistryError(f"{path} listed twice")
            stated[path] = (sha, size)
    return stated


def upstream(name: str, path: str, origins: dict[str, str]) -> tuple[Rule, str, str | None]:
    """``(rule, url, member)`` of one local file."""
    for rule in RULES[name]:
        if m := re.fullmatch(rule.pattern, path):
            if rule.repo not in origins:
                raise RegistryError(f"rule for {path} names {rule.repo}, not an origin in SOURCE.md")
            groups = m.groupdict()
            url = RAW.format(repo=rule.repo, commit=origins[rule.repo], path=rule.upstream.format(**groups))
            member = rule.member.format(**groups) if rule.member else None
            return rule, url, member
    raise RegistryError(f"no upstream rule matches {path}")


def build_dataset(folder: Path) -> dict:
    name = folder.name
    if name not in RULES:
        raise RegistryError("no upstream rules for this dataset; add them to RULES")
    source = folder / "SOURCE.md"
    text = source.read_text(encoding="utf-8")
    origins = parse_origins(text)
    stated = parse_checksums(text)

    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {"SOURCE.md"}
    if missing := sorted(present - stated.keys()):
        raise RegistryError(f"files without a sha256 in SOURCE.md: {missing[:5]} ({len(missing)})")
    if extra := sorted(stated.keys() - present):
        raise RegistryError(f"SOURCE.md lists files absent from the mirror: {extra[:5]} ({len(extra)})")

    files = []
    used_repos = set()
    for path in sorted(stated):
        sha, size = stated[path]
        actual_sha, actual_size = sha256_of(folder / path), (folder / path).stat().st_size
        if actual_sha != sha:
            raise RegistryError(f"{path}: sha256 {actual_sha} != {sha} stated in SOURCE.md")
        if size is not None and size != actual_size:
            raise RegistryError(f"{path}: {actual_size} bytes != {size} stated in SOURCE.md")
        rule, url, member = upstream(name, path, origins)
        used_repos.add(rule.repo)
        entry = {"path": path, "sha256": sha, "bytes": actual_size, "url": url, "member": member}
        if rule.member_note:
            entry["member_note"] = rule.member_note
        files.append(entry)
    if unused := [repo for repo in origins if repo not in used_repos]:
        raise RegistryError(f"origins with no file mapped to them: {unused}")

    files.append({"path": "SOURCE.md", "sha256": sha256_of(source), "bytes": source.stat().st_size,
                  "url": None, "member": None})
    return {
        "title": parse_title(text),
        "licence": parse_licence(text),
        "origin": "; ".join(f"{repo}@{commit}" for repo, commit in origins.items()),
        "files": sorted(files, key=lambda f: f["path"]),
    }


def build_registry(mirror: Path) -> dict[str, dict]:
    folders = sorted(p for p in mirror.iterdir() if p.is_dir())
    if not folders:
        raise RegistryError(f"no dataset folders in {mirror}")
    registry = {}
    for folder in folders:
        try:
            registry[folder.name] = build_dataset(folder)
        except (RegistryError, OSError, ValueError) as exc:
            raise RegistryError(f"{folder.name}: {exc}") from exc
    return registry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mirror", type=Path, help="dataset mirror root, e.g. /work/shared/datasets")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("registry.json"))
    args = parser.parse_args(argv)
    registry = build_registry(args.mirror)
    args.out.write_text(json.dumps(registry, indent=1) + "\n", encoding="utf-8")
    n_files = sum(len(d["files"]) for d in registry.values())
    print(f"wrote {args.out}: {len(registry)} datasets, {n_files} files", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
