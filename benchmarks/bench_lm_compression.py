"""LM compression (Zhao et al. 2019/2021): the student against MiniLM, and quantize_dynamic(MiniLM) against MiniLM.

Measured in one process, on the CPU, with one torch thread (``course_lib.cost.latency``: batch of one, warm-up,
p50/p90 of repeated calls) on sentences of SST-2 dev (GLUE dev) when the data is present, else on built-in demo
sentences; each model reads the sentence in its own tokenization. Bytes are serialized state dicts
(``cost.serialized_bytes``). The goal: the student ≥ 10× faster than MiniLM at ≥ 90 % of its accuracy — the
accuracy ratio comes from the cached course results of the series (best distilled arm over its seeds / the
teacher probe), not from this run.
"""
from __future__ import annotations

import argparse
import os

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

GOAL_SPEED, GOAL_ACCURACY = 10.0, 0.90


def _sentences(n: int) -> tuple[list[str], str]:
    """``n`` SST-2 dev sentences at evenly spaced length quantiles, or the demo sentences without the data."""
    from course_lib.data import DataUnavailable
    from course_lib.lm_compression.peers import DEMO_SENTENCES

    try:
        from course_lib.lm_compression.data import load_sst2

        texts = sorted(load_sst2("test").texts, key=len)
    except (DataUnavailable, FileNotFoundError):
        return list(DEMO_SENTENCES)[:n], "demo sentences (SST-2 not available)"
    picks = np.linspace(0.1, 0.9, n) if n > 1 else [0.5]
    return [texts[int(q * (len(texts) - 1))] for q in picks], f"{n} SST-2 dev sentences (length quantiles)"


def _student():
    """The course student: the committed trained one when the series has it, else a fresh one of the course shape
    (``experiments.student_cfg(PRESETS["course"], ...)``; latency and bytes do not depend on the weights)."""
    from course_lib.lm_compression import experiments, student, vocab
    from course_lib.lm_compression.presets import PRESETS

    tok = vocab.student_tokenizer()
    try:
        return tok, experiments.load_demo_student(), "the committed course student"
    except (AttributeError, FileNotFoundError):
        cfg = experiments.student_cfg(PRESETS["course"], tok.get_vocab_size())
        return tok, student.Encoder(cfg), (f"course shape ({cfg.layers} layers, h {cfg.hidden}, FFN {cfg.ffn}, "
                                           f"{cfg.vocab_size:,} pieces), untrained weights")


def accuracy_ratio() -> tuple[float | None, str]:
    """Best distilled arm's mean SST-2 dev accuracy over its seeds / the teacher probe's, from the committed course
    results (None with the reason when they are not there)."""
    from course_lib.lm_compression import experiments

    try:
        table, meta = experiments.load_course_results()
    except FileNotFoundError as exc:
        return None, f"no committed course results ({str(exc)[:100]})"
    teacher = float(meta["teacher_probe_dev_acc"])
    means = experiments.summarize(table)["mean"]
    distilled = means.drop("scratch", errors="ignore")
    best = distilled.idxmax()
    seeds = int((table["arm"] == best).sum())
    return float(distilled[best] / teacher), (f"best distilled arm `{best}` {distilled[best]:.2f} % (mean of "
                                              f"{seeds} seeds) / teacher probe {teacher:.2f} %")


def main(quick: bool = False) -> str:
    import torch

    from course_lib.lm_compression import mixing, peers, teachers

    before = torch.get_num_threads()
    repeats = 10 if quick else 60
    sentences, where = _sentences(3 if quick else 7)
    tok, minilm = teachers.load_minilm(device="cpu")
    qminilm = peers.quantize_minilm(minilm)
    qchannel = peers.quantize_minilm(minilm, per_channel=True)
    s_tok, small, student_kind = _student()
    small = small.cpu().eval()
    tables = []
    for s in sentences:
        enc = tok([s], return_tensors="pt")
        ex = (enc["input_ids"], enc["attention_mask"])
        tables.append(peers.size_speed_table({"MiniLM fp32": (minilm, ex), "MiniLM dynamic int8": (qminilm, ex),
                                              "MiniLM dynamic int8, per-channel": (qchannel, ex),
                                              "student": (small, mixing.encode_student(s_tok, [s]))},
                                             repeats=repeats, warmup=3, threads=1))
    cosine = peers.quantized_cosine(tok, minilm, qminilm, sentences)
    cosine_channel = peers.quantized_cosine(tok, minilm, qchannel, sentences)
    torch.set_num_threads(before)
    def per_sentence(col):  # sentences × models
        return np.array([[t.loc[m, col] for m in tables[0].index] for t in tables])

    p50, cpu = per_sentence("p50 ms"), per_sentence("CPU p50 ms")
    speed, cpu_speed = p50[:, 0:1] / p50, cpu[:, 0:1] / cpu  # per-sentence ratios MiniLM / model
    first = tables[0]
    lines = ["### lm_compression: per-sentence latency and bytes, CPU, 1 thread", "",
             f"Sentences: {where}; {repeats} interleaved rounds per sentence (one call of each model per round); "
             f"student: {student_kind}. Wall time = `course_lib.cost.latency` (perf_counter); CPU time = thread "
             f"CPU time of the same calls (robust to a loaded machine; os.cpu_count() = {os.cpu_count()}, "
             f"1-min load average {os.getloadavg()[0]:.1f}).", "",
             "| model | params | MB | × smaller (bytes) | wall p50 ms | × faster (wall p50) | CPU p50 ms | "
             "× faster (CPU p50) |", "|---|---|---|---|---|---|---|---|"]
    for j, name in enumerate(first.index):
        lines.append(f"| {name} | {first.loc[name, 'params']:,} | {first.loc[name, 'MB']:.2f} | "
                     f"{first.loc[name, '× smaller (bytes)']:.2f} | {np.median(p50[:, j]):.2f} | "
                     f"{np.median(speed[:, j]):.2f} [{speed[:, j].min():.2f}–{speed[:, j].max():.2f}] | "
                     f"{np.median(cpu[:, j]):.2f} | {np.median(cpu_speed[:, j]):.2f} "
                     f"[{cpu_speed[:, j].min():.2f}–{cpu_speed[:, j].max():.2f}] |")
    lines += ["", "Ratios: median [min–max] over the sentences (MiniLM time / model time, each sentence in each "
              "model's own tokenization)."]
    lines += ["", f"int8 vs fp32 MiniLM sentence-embedding cosine ({len(cosine)} sentences): per-tensor scales mean "
              f"{cosine.mean():.4f} (min {cosine.min():.4f}), per-channel scales mean {cosine_channel.mean():.4f} "
              f"(min {cosine_channel.min():.4f})."]
    j = list(first.index).index("student")
    # conservative: the smaller of the wall-time and the CPU-time ratios (medians over the sentences)
    student_speed = float(min(np.median(speed[:, j]), np.median(cpu_speed[:, j])))
    ratio, how = accuracy_ratio()
    fast = student_speed >= GOAL_SPEED
    if ratio is None:
        verdict = (f"speed {'met' if fast else 'NOT met'} (student {student_speed:.1f}× faster, the smaller of the "
                   f"wall and CPU ratios; goal ≥ {GOAL_SPEED:.0f}×); accuracy not assessed: {how}")
    else:
        good = ratio >= GOAL_ACCURACY
        verdict = (f"{'MET' if fast and good else 'NOT MET'}: student {student_speed:.1f}× faster than MiniLM (the "
                   f"smaller of the wall and CPU ratios) "
                   f"(goal ≥ {GOAL_SPEED:.0f}×, {'met' if fast else 'not met'}) at {ratio:.1%} of its accuracy "
                   f"(goal ≥ {GOAL_ACCURACY:.0%}, {'met' if good else 'not met'}; {how})")
    lines += ["", f"**Goal (student ≥ {GOAL_SPEED:.0f}× faster at ≥ {GOAL_ACCURACY:.0%} of MiniLM's accuracy):** "
              + verdict, ""]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    print(main(parser.parse_args().quick))
