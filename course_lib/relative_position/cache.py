"""Small cached artefacts for the interactive notebook, under ``data/relative_position/`` of the repository.

:func:`build_cache` (run ``python -m course_lib.relative_position.cache``) trains and writes:

- ``taggers.pt``     — the offset-task taggers (relative k = 8, sinusoidal, learned absolute), fp16 weights;
- ``translator.pt``  — a tiny relative-position En→De translator (fp16 weights + its config);
- ``spm_en.model``, ``spm_de.model`` — its sentencepiece BPE models;
- ``timings.json``   — a course-scale timing run including ``torch.compile`` (slow to compile, so cached).

The loaders fall back to a quick training run (with a loud banner) when a file is missing.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch

from course_lib.artifacts import artifact_dir, save_torch, write_atomic, write_json
from course_lib.relative_position.transformer import Seq2SeqTransformer, SequenceTagger, TransformerConfig

DATA_DIR = artifact_dir("relative_position")
TAGGERS = {"relative (k=8)": ("relative", 8), "absolute sinusoidal": ("sinusoidal", 8),
           "learned absolute": ("learned", 8)}


def _half(state: dict) -> dict:
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


def _float(state: dict) -> dict:
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def _banner(msg: str) -> None:
    line = "=" * 100
    print(f"{line}\n[relative_position] {msg}\n{line}")


def build_taggers(steps: int = 1500, seed: int = 0) -> dict[str, SequenceTagger]:
    """Train the three offset-task taggers of :data:`TAGGERS`."""
    from course_lib.relative_position.synthetic import build_tagger, train_tagger

    out = {}
    for name, (pos, k) in TAGGERS.items():
        model = build_tagger(pos, k, seed=seed)
        train_tagger(model, "offset", steps=steps, seed=seed)
        out[name] = model
    return out


def load_demo_taggers(directory: Path | None = None, device=None, fallback_steps: int = 300):
    """The cached taggers (eval mode); trains them for ``fallback_steps`` if ``taggers.pt`` is missing."""
    path = (directory or DATA_DIR) / "taggers.pt"
    if not path.is_file():
        _banner(f"{path} not found — training the demo taggers for {fallback_steps} steps instead "
                "(run `python -m course_lib.relative_position.cache` to build the cache)")
        models = build_taggers(fallback_steps)
    else:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        models = {}
        for name, entry in blob.items():
            model = SequenceTagger(TransformerConfig(**entry["config"]), entry["vocab"], entry["classes"])
            model.load_state_dict(_float(entry["state"]))
            models[name] = model
    return {n: m.to(device or "cpu").eval() for n, m in models.items()}


def build_translator(steps: int = 1000, vocab: int = 2000, seed: int = 0):
    """Train the demo translator (relative, k = 16, 2 + 2 layers, d 128) on Multi30k; returns (model, data)."""
    from course_lib.relative_position.translation import build_translator as build
    from course_lib.relative_position.translation import prepare_translation, train_translator

    data = prepare_translation(vocab_size=vocab, seed=seed)
    model = build(data, "relative", d_ff=256, seed=seed)
    train_translator(model, data, steps=steps, seed=seed)
    return model, data


def load_demo_translator(directory: Path | None = None, device=None, fallback_steps: int = 150):
    """(model, TranslationData with the tokenisers) from the cache, or a quickly trained stand-in."""
    import sentencepiece as spm

    from course_lib.relative_position.translation import TranslationData

    root = directory or DATA_DIR
    if not (root / "translator.pt").is_file():
        _banner(f"{root / 'translator.pt'} not found — training a stand-in translator for {fallback_steps} steps; "
                "its translations will be poor (run `python -m course_lib.relative_position.cache`)")
        model, data = build_translator(steps=fallback_steps, vocab=1000)
        return model.to(device or "cpu").eval(), data
    blob = torch.load(root / "translator.pt", map_location="cpu", weights_only=True)
    src_sp = spm.SentencePieceProcessor(model_file=str(root / "spm_en.model"))
    tgt_sp = spm.SentencePieceProcessor(model_file=str(root / "spm_de.model"))
    model = Seq2SeqTransformer(TransformerConfig(**blob["config"]), src_sp.get_piece_size(),
                               tgt_sp.get_piece_size())
    model.load_state_dict(_float(blob["state"]))
    return model.to(device or "cpu").eval(), TranslationData(src_sp, tgt_sp, [], {}, 12)


def build_timings(directory: Path | None = None, ns=(64, 256, 1024), rounds: int = 10) -> Path:
    """Write ``timings.json``: core and module timing tables, module ones with torch.compile and the peers."""
    from course_lib.relative_position.efficiency import timing_table

    root = directory or DATA_DIR
    root.mkdir(parents=True, exist_ok=True)
    tables = {"core": timing_table(ns, level="core", rounds=rounds),
              "module": timing_table(ns, level="module", rounds=rounds, compile_einsum=True, peers=True)}
    return write_json(root / "timings.json", {k: v.to_dict(orient="records") for k, v in tables.items()})


def build_cache(directory: Path | None = None, *, tagger_steps: int = 1500, translator_steps: int = 1000,
                timings: bool = True, models: bool = True, seed: int = 0) -> Path:
    """Train and write every cached artefact (see the module docstring); returns the folder."""
    root = directory or DATA_DIR
    root.mkdir(parents=True, exist_ok=True)
    if timings:
        build_timings(root)
    if not models:
        return root
    taggers = build_taggers(tagger_steps, seed)
    save_torch(root / "taggers.pt", {
        name: {"config": dataclasses.asdict(m.cfg), "vocab": m.encoder.embed.tokens.num_embeddings,
               "classes": m.head.out_features, "state": _half(m.state_dict())} for name, m in taggers.items()})
    model, data = build_translator(translator_steps, seed=seed)
    # the tokenisers first, the translator last: a reader that finds translator.pt finds its tokenisers too
    write_atomic(root / "spm_en.model", data.src_sp.serialized_model_proto())
    write_atomic(root / "spm_de.model", data.tgt_sp.serialized_model_proto())
    save_torch(root / "translator.pt", {"config": dataclasses.asdict(model.cfg), "state": _half(model.state_dict())})
    return root


def load_timings(directory: Path | None = None):
    """The cached timing tables as {"core": DataFrame, "module": DataFrame}, or None if absent."""
    import pandas as pd

    path = (directory or DATA_DIR) / "timings.json"
    if not path.is_file():
        return None
    return {k: pd.DataFrame(v) for k, v in json.loads(path.read_text()).items()}


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m course_lib.relative_position.cache [--timings-only | --no-timings]``."""
    parser = argparse.ArgumentParser(prog="python -m course_lib.relative_position.cache", description=__doc__)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--tagger-steps", type=int, default=1500)
    parser.add_argument("--translator-steps", type=int, default=1000)
    parser.add_argument("--no-timings", action="store_true", help="skip timings.json")
    parser.add_argument("--timings-only", action="store_true", help="only (re)write timings.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print("wrote", build_cache(args.out, tagger_steps=args.tagger_steps, translator_steps=args.translator_steps,
                               timings=not args.no_timings, models=not args.timings_only))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
