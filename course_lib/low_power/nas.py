"""A tiny neural architecture search under a hard MAC budget: random search vs regularised evolution.

* **Search space** (:class:`SearchSpace`): 1-D CNNs for MNIST-1D, 1 to 3 blocks, each block a convolution with a
  kernel in {3, 5} and a width in {8, 16, 32}, then ReLU and max-pooling by 2; a linear classifier on the
  flattened features. 258 architectures: few enough to train them all once (a *tabular benchmark*, the idea of
  NAS-Bench-101, Ying et al. 2019), so that many searches can be compared at the cost of table look-ups.
* **Budget**: MACs per sample from :func:`course_lib.cost.count_macs`; an architecture over the budget is never
  evaluated nor returned (rejection), and a budget that no architecture meets is a ``ValueError``.
* **Random search** draws architectures within the budget; **regularised evolution** (Real et al. 2019, AmoebaNet,
  Algorithm 1) keeps a population, picks the best of a random sample as parent (tournament), mutates one choice,
  adds the child and removes the *oldest* member (ageing). Both get the same number of evaluations.
* **Proxy**: an architecture is scored by validation accuracy after a few epochs (a held-out part of the training
  set; the test set only reports the chosen one). How well the proxy ranks architectures trained longer is
  measured by a rank correlation (:func:`proxy_rank_correlation`).

``python -m course_lib.low_power.nas`` (re)computes the table ``data/low_power/nas_table_mnist1d.json``.
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import itertools
import json
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from course_lib.checks import as_int

Arch = tuple[tuple[int, int], ...]      # ((kernel, width), ...) one pair per block
PKG = "low_power"
TABLE_FILE = "nas_table_mnist1d.json"


def arch_key(arch: Arch) -> str:
    """A readable key, e.g. ``"k5w32-k3w16"``."""
    return "-".join(f"k{k}w{w}" for k, w in arch)


def parse_key(key: str) -> Arch:
    """The architecture of an :func:`arch_key` string."""
    try:
        return tuple((int(b[1:b.index("w")]), int(b[b.index("w") + 1:])) for b in key.split("-"))
    except ValueError as exc:
        raise ValueError(f"not an architecture key like 'k5w32-k3w16': {key!r}") from exc


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """Blocks of (Conv1d kernel k, width w) → ReLU → MaxPool(2); then Flatten → Linear to the classes."""

    kernels: tuple[int, ...] = (3, 5)
    widths: tuple[int, ...] = (8, 16, 32)
    max_depth: int = 3
    length: int = 40
    in_channels: int = 1
    num_classes: int = 10

    def __post_init__(self):
        if not self.kernels or not self.widths:
            raise ValueError("kernels and widths must be non-empty")
        as_int("max_depth", self.max_depth, minimum=1)
        if self.length >> self.max_depth < 1:
            raise ValueError(f"length {self.length} cannot be pooled {self.max_depth} times")
        object.__setattr__(self, "_macs", {})

    @property
    def choices(self) -> list[tuple[int, int]]:
        """The (kernel, width) options of one block."""
        return list(itertools.product(self.kernels, self.widths))

    def all(self) -> list[Arch]:
        """Every architecture of the space (depth 1 … max_depth)."""
        return [arch for d in range(1, self.max_depth + 1) for arch in itertools.product(self.choices, repeat=d)]

    def validate(self, arch) -> Arch:
        arch = tuple(tuple(b) for b in arch)
        if not 1 <= len(arch) <= self.max_depth or any(b not in self.choices for b in arch):
            raise ValueError(f"{arch!r} is not in the space: 1 to {self.max_depth} blocks of (kernel, width) with "
                             f"kernel in {self.kernels} and width in {self.widths}")
        return arch

    def build(self, arch: Arch) -> nn.Sequential:
        """The network of ``arch`` (freshly initialised)."""
        layers, c, length = [], self.in_channels, self.length
        for k, w in self.validate(arch):
            layers += [nn.Conv1d(c, w, k, padding=k // 2), nn.ReLU(), nn.MaxPool1d(2)]
            c, length = w, length // 2
        return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * length, self.num_classes))

    def macs(self, arch: Arch) -> int:
        """MACs per sample (:func:`course_lib.cost.count_macs`, conv + linear), memoised."""
        from course_lib.cost import count_macs

        arch = self.validate(arch)
        cache = self._macs
        if arch not in cache:
            cache[arch] = count_macs(self.build(arch), torch.zeros(1, self.in_channels, self.length))
        return cache[arch]

    def sample(self, rng: np.random.Generator) -> Arch:
        """A random architecture: depth uniform in 1 … max_depth, then each block's choice uniform."""
        depth = int(rng.integers(1, self.max_depth + 1))
        opts = self.choices
        return tuple(opts[int(i)] for i in rng.integers(0, len(opts), size=depth))

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """Change one thing (Real et al. 2019 §2: one mutation per child): a block's kernel or width, or add / remove
        a block. The child always differs from the parent."""
        arch = list(self.validate(arch))
        moves = ["kernel", "width"] + (["add"] if len(arch) < self.max_depth else []) + (
            ["remove"] if len(arch) > 1 else [])
        while True:
            move = moves[int(rng.integers(len(moves)))]
            i = int(rng.integers(len(arch)))
            child = list(arch)
            if move == "kernel":
                child[i] = (self.kernels[int(rng.integers(len(self.kernels)))], arch[i][1])
            elif move == "width":
                child[i] = (arch[i][0], self.widths[int(rng.integers(len(self.widths)))])
            elif move == "add":
                child.insert(int(rng.integers(len(arch) + 1)), self.choices[int(rng.integers(len(self.choices)))])
            else:
                del child[i]
            if child != arch:
                return tuple(child)


# ---------------------------------------------------------------------------------------------------- budget
def feasible(space: SearchSpace, budget: int) -> list[Arch]:
    """Every architecture with at most ``budget`` MACs; ``ValueError`` when there is none."""
    budget = as_int("budget", budget, minimum=1)
    archs = space.all()
    ok = [a for a in archs if space.macs(a) <= budget]
    if not ok:
        smallest = min(archs, key=space.macs)
        raise ValueError(f"no architecture of the space meets the budget of {budget:,} MACs: the smallest, "
                         f"{arch_key(smallest)}, needs {space.macs(smallest):,} MACs")
    return ok


def sample_within(space: SearchSpace, budget: int, rng: np.random.Generator, tries: int = 1000) -> Arch:
    """:meth:`SearchSpace.sample` with rejection of architectures over ``budget``."""
    for _ in range(tries):
        arch = space.sample(rng)
        if space.macs(arch) <= budget:
            return arch
    ok = feasible(space, budget)                       # pathological budget: draw among the few feasible ones
    return ok[int(rng.integers(len(ok)))]


@dataclasses.dataclass
class SearchResult:
    """Every evaluation of one search, in order: architecture, MACs, proxy score."""

    method: str
    budget: int
    history: list[tuple[Arch, int, float]]

    @property
    def best(self) -> tuple[Arch, int, float]:
        """The best evaluated architecture (first one on ties)."""
        return max(self.history, key=lambda h: h[2])

    def best_so_far(self) -> np.ndarray:
        """Best score after each evaluation (the search's anytime curve)."""
        return np.maximum.accumulate(np.array([h[2] for h in self.history]))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"evaluation": i + 1, "arch": arch_key(a), "MACs": m, "score": s}
                             for i, (a, m, s) in enumerate(self.history)])


def _evaluate(space, evaluate, arch, budget, history):
    macs = space.macs(arch)
    if macs > budget:     # never happens by construction; kept as a hard guard on every evaluation
        raise RuntimeError(f"{arch_key(arch)} has {macs:,} MACs > budget {budget:,}")
    score = float(evaluate(arch))
    history.append((arch, macs, score))
    return score


def random_search(space: SearchSpace, evaluate: Callable[[Arch], float], *, budget: int, evaluations: int,
                  seed: int = 0) -> SearchResult:
    """Random search (Bergstra & Bengio 2012; the baseline of Real et al. 2019): ``evaluations`` architectures drawn
    within ``budget``, each scored by ``evaluate(arch)``."""
    evaluations = as_int("evaluations", evaluations, minimum=1)
    feasible(space, budget)
    rng = np.random.default_rng(as_int("seed", seed, minimum=0))
    history: list = []
    for _ in range(evaluations):
        _evaluate(space, evaluate, sample_within(space, budget, rng), budget, history)
    return SearchResult("random", budget, history)


def tournament(population, sample: int, rng: np.random.Generator):
    """Tournament selection (Real et al. 2019, Algorithm 1): draw ``sample`` members of ``population`` (a sequence of
    ``(arch, score)``, oldest first) uniformly with replacement in one ``rng.integers`` call; return the
    architecture with the highest score among them (the first drawn on ties)."""
    candidates = [population[int(i)] for i in rng.integers(0, len(population), size=sample)]
    return max(candidates, key=lambda c: c[1])[0]


def regularized_evolution(space: SearchSpace, evaluate: Callable[[Arch], float], *, budget: int, evaluations: int,
                          population: int = 10, sample: int = 3, seed: int = 0) -> SearchResult:
    """Regularised (ageing) evolution, Real et al. 2019 Algorithm 1, with every child within ``budget``."""
    evaluations = as_int("evaluations", evaluations, minimum=1)
    population = as_int("population", population, minimum=1)
    sample = as_int("sample", sample, minimum=1)
    if population > evaluations:
        raise ValueError(f"population ({population}) must not exceed evaluations ({evaluations})")
    feasible(space, budget)
    rng = np.random.default_rng(as_int("seed", seed, minimum=0))
    history: list = []
    pop: collections.deque = collections.deque()
    #: Initial population: $P$ random architectures within the budget (the same sampler as random search).
    while len(pop) < population:
        arch = sample_within(space, budget, rng)
        pop.append((arch, _evaluate(space, evaluate, arch, budget, history)))
    while len(history) < evaluations:
        #: Tournament: draw $S$ members uniformly (with replacement) and take the best as the parent.
        parent = tournament(pop, sample, rng)
        #: Mutate one choice; a child over the MAC budget is rejected and redrawn (hard constraint), and after
        #: 50 rejections a random feasible architecture takes its place.
        for _ in range(50):
            child = space.mutate(parent, rng)
            if space.macs(child) <= budget:
                break
        else:
            child = sample_within(space, budget, rng)
        #: Ageing: the child joins, the **oldest** member leaves — not the worst (the "regularised" part).
        pop.append((child, _evaluate(space, evaluate, child, budget, history)))
        pop.popleft()
    return SearchResult("evolution", budget, history)


# -------------------------------------------------------------------------------------------------- evaluators
def nas_split(seed: int = 0, n_val: int = 1000):
    """MNIST-1D for the search: the 4,000 training signals split into train / validation (seeded permutation);
    the 1,000 test signals are kept for reporting the chosen architecture only. Returns (search split, test x, y):
    the search split's ``x_test``/``y_test`` hold the **validation** part."""
    from course_lib.low_power.data import load_mnist1d

    d = load_mnist1d()
    order = torch.randperm(len(d.y_train), generator=torch.Generator().manual_seed(as_int("seed", seed)))
    val, tr = order[:n_val], order[n_val:]
    search = dataclasses.replace(d, x_train=d.x_train[tr], y_train=d.y_train[tr], x_test=d.x_train[val],
                                 y_test=d.y_train[val],
                                 description=f"MNIST-1D train split {len(tr)} / validation {len(val)} (seed {seed})")
    return search, d.x_test, d.y_test


def train_arch(space: SearchSpace, arch: Arch, split, *, epochs: int, lr: float = 3e-3, batch_size: int = 100,
               seed: int = 0, device=None) -> tuple[nn.Module, float]:
    """Train ``arch`` for ``epochs`` with the series' loop (:func:`course_lib.low_power.models.train`); returns the
    model and its accuracy [%] on ``split``'s held-out part."""
    from course_lib.low_power.models import accuracy, train

    torch.manual_seed(as_int("seed", seed, minimum=0))
    model = space.build(arch)
    train(model, split, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, device=device)
    return model, accuracy(model, split.x_test, split.y_test)


class ProxyEvaluator:
    """``evaluate(arch)`` = validation accuracy [%] after a short training (memoised: a re-evaluated architecture
    costs nothing and gets the same number, since training is seeded)."""

    def __init__(self, space: SearchSpace, split, *, epochs: int, lr: float = 3e-3, batch_size: int = 100,
                 seed: int = 0, device=None):
        self.space, self.split, self.seed, self.device = space, split, seed, device
        self.epochs, self.lr, self.batch_size = as_int("epochs", epochs, minimum=1), lr, batch_size
        self.cache: dict[Arch, float] = {}
        self.calls = 0

    def __call__(self, arch: Arch) -> float:
        self.calls += 1
        arch = self.space.validate(arch)
        if arch not in self.cache:
            self.cache[arch] = train_arch(self.space, arch, self.split, epochs=self.epochs, lr=self.lr,
                                          batch_size=self.batch_size, seed=self.seed, device=self.device)[1]
        return self.cache[arch]


class TableEvaluator:
    """``evaluate(arch)`` read from a precomputed table ``{"archs": {arch_key: {"val_acc": …}}}`` (a tabular
    benchmark: the search pays a look-up instead of a training run)."""

    def __init__(self, table: dict, key: str = "val_acc"):
        if "archs" not in table:
            raise ValueError("expected a table with an 'archs' mapping (see load_table)")
        self.rows, self.key, self.calls = table["archs"], key, 0

    def __call__(self, arch: Arch) -> float:
        self.calls += 1
        k = arch_key(arch)
        if k not in self.rows:
            raise KeyError(f"architecture {k} is not in the table ({len(self.rows)} rows)")
        return float(self.rows[k][self.key])


# --------------------------------------------------------------------------------------------------- the table
def table_path():
    from course_lib.artifacts import artifact_dir

    return artifact_dir(PKG) / TABLE_FILE


def load_table(path=None) -> dict:
    """The committed table: ``{"config": …, "archs": {key: {macs, params, val_acc, test_acc, …}}}``."""
    from course_lib.artifacts import read_json

    path = path or table_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; recompute it with python -m course_lib.low_power.nas")
    return read_json(path)


def table_frame(table: dict) -> pd.DataFrame:
    """The table as a DataFrame indexed by architecture key."""
    df = pd.DataFrame.from_dict(table["archs"], orient="index")
    df["depth"] = [len(parse_key(k)) for k in df.index]
    return df


def compute_table(space: SearchSpace, *, epochs: int, long_epochs: int = 0, long_archs: int = 0,
                  long_budget: int | None = None, max_macs: int | None = None, seed: int = 0, path=None, device=None,
                  progress: bool = True) -> dict:
    """Train every architecture of ``space`` (up to ``max_macs`` MACs; cheapest first) for ``epochs`` (the proxy)
    and record MACs, parameters, validation and test accuracy; ``long_archs`` of those within ``long_budget`` MACs
    (a seeded random subset) are also trained for ``long_epochs``. Written to ``path`` after every architecture and
    resumed from it, so a long run can be interrupted and the cheap (within-budget) part is complete first."""
    from tqdm.auto import tqdm

    from course_lib.artifacts import read_json, write_json
    from course_lib.cost import count_params
    from course_lib.low_power.models import accuracy

    path = path or table_path()
    config = {"space": dataclasses.asdict(space), "epochs": epochs, "long_epochs": long_epochs, "seed": seed,
              "lr": 3e-3, "batch_size": 100, "data": "MNIST-1D: 3,000 train / 1,000 validation (from the 4,000 "
              "training signals, seeded) for the search; the 1,000 test signals for reporting",
              "command": "python -m course_lib.low_power.nas"}
    config = json.loads(json.dumps(config))                 # tuples as JSON lists, as read back from the file
    table = read_json(path) if path.is_file() else {"config": config, "archs": {}}
    if table["config"] != config:
        raise ValueError(f"{path} was computed with another configuration: {table['config']}")
    split, x_test, y_test = nas_split(seed)
    archs = sorted(space.all(), key=lambda a: (space.macs(a), arch_key(a)))
    if max_macs is not None:
        archs = [a for a in archs if space.macs(a) <= max_macs]
    long_pool = [a for a in archs if long_budget is None or space.macs(a) <= long_budget]
    rng = np.random.default_rng(seed)
    long_set = {arch_key(long_pool[int(i)]) for i in rng.choice(len(long_pool), size=min(long_archs, len(long_pool)),
                                                                replace=False)} if long_archs else set()
    table["long_subset"] = {"archs": sorted(long_set), "budget": long_budget}
    todo = [a for a in archs if arch_key(a) not in table["archs"]]
    todo += [a for a in archs if arch_key(a) in long_set and "long_val_acc" not in table["archs"].get(arch_key(a), {})]
    for arch in tqdm(todo, desc="NAS table", disable=not progress):
        k = arch_key(arch)
        row = table["archs"].get(k)
        if row is None:
            t0 = time.perf_counter()
            model, val = train_arch(space, arch, split, epochs=epochs, seed=seed, device=device)
            row = {"macs": space.macs(arch), "params": count_params(model), "val_acc": val,
                   "test_acc": accuracy(model.cpu(), x_test, y_test), "seconds": time.perf_counter() - t0}
        elif k in long_set:
            model, val = train_arch(space, arch, split, epochs=long_epochs, seed=seed, device=device)
            row.update(long_val_acc=val, long_test_acc=accuracy(model.cpu(), x_test, y_test))
        table["archs"][k] = row
        write_json(path, table)
    return table


def proxy_rank_correlation(table: dict) -> tuple[float, int]:
    """Spearman rank correlation between proxy and long-training validation accuracy over the architectures that
    have both, and their number (the "proxy problem": a cheap score must rank like the expensive one)."""
    from scipy.stats import spearmanr

    keys = table.get("long_subset", {}).get("archs") or list(table["archs"])   # the declared subset, if any
    rows = [table["archs"][k] for k in keys if "long_val_acc" in table["archs"].get(k, {})]
    if len(rows) < 3:
        raise ValueError(f"need at least 3 architectures trained long, the table has {len(rows)}")
    return float(spearmanr([r["val_acc"] for r in rows], [r["long_val_acc"] for r in rows])[0]), len(rows)


def compare_searches(space: SearchSpace, table: dict, *, budget: int, evaluations: int, seeds, population: int = 10,
                     sample: int = 3) -> pd.DataFrame:
    """Random search vs regularised evolution on the table, one row per seed: best validation accuracy found by
    each, the test accuracy of the chosen architecture, the largest MACs evaluated, and the best feasible
    validation accuracy of the whole table (the optimum both are chasing). ``df.attrs["curves"]`` holds each
    method's best-so-far curves (seeds × evaluations)."""
    ok = feasible(space, budget)
    optimum = max(table["archs"][arch_key(a)]["val_acc"] for a in ok)
    rows, curves = [], {"random": [], "evolution": []}
    for seed in seeds:
        res = {"random": random_search(space, TableEvaluator(table), budget=budget, evaluations=evaluations,
                                       seed=seed),
               "evolution": regularized_evolution(space, TableEvaluator(table), budget=budget,
                                                  evaluations=evaluations, population=population, sample=sample,
                                                  seed=seed)}
        row = {"seed": seed, "optimum_val": optimum}
        for name, r in res.items():
            curves[name].append(r.best_so_far())
            arch, _, val = r.best
            row.update({f"{name}_val": val, f"{name}_test": table["archs"][arch_key(arch)]["test_acc"],
                        f"{name}_arch": arch_key(arch), f"{name}_max_macs": max(m for _, m, _ in r.history),
                        f"{name}_evaluations": len(r.history)})
        rows.append(row)
    df = pd.DataFrame(rows).set_index("seed")
    df["evolution_minus_random"] = df["evolution_val"] - df["random_val"]
    df.attrs["curves"] = {k: np.array(v) for k, v in curves.items()}   # best-so-far per seed (rows) and evaluation
    return df


def main(argv=None) -> int:
    """Recompute the NAS table: ``python -m course_lib.low_power.nas [--epochs 5 --long-epochs 20 --long-archs 24
    --long-budget 25000 --max-macs N]`` (CPU, one thread; resumes from the file)."""
    from course_lib.repro import set_threads

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--long-epochs", type=int, default=20)
    ap.add_argument("--long-archs", type=int, default=24)
    ap.add_argument("--long-budget", type=int, default=25_000)
    ap.add_argument("--max-macs", type=int, default=None)
    args = ap.parse_args(argv)
    set_threads()
    compute_table(SearchSpace(), epochs=args.epochs, long_epochs=args.long_epochs, long_archs=args.long_archs,
                  long_budget=args.long_budget, max_macs=args.max_macs, device="cpu")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


# ------------------------------------------------------------------------------------------ the series' study
def study(preset, table: dict | None = None) -> dict:
    """Notebook 4's measurements on the committed table: random search vs regularised evolution at
    ``preset.nas_evaluations`` evaluations under ``preset.nas_budget`` MACs, for ``preset.nas_seeds`` and for
    ``preset.nas_more_seeds`` more seeds (their spread); the proxy's rank correlation; the impossible-budget error."""
    space = SearchSpace()
    table = table or load_table()
    kw = dict(budget=preset.nas_budget, evaluations=preset.nas_evaluations, population=preset.nas_population,
              sample=preset.nas_sample)
    main = compare_searches(space, table, seeds=preset.nas_seeds, **kw)
    more = compare_searches(space, table, seeds=range(1000, 1000 + preset.nas_more_seeds), **kw)
    smallest = min(space.macs(a) for a in space.all())
    try:
        feasible(space, smallest - 1)
        raised = 0.0
    except ValueError:
        raised = 1.0
    try:
        rho, n = proxy_rank_correlation(table)
    except ValueError:
        rho, n = float("nan"), 0
    return {"space": space, "table": table, "searches": main, "more": more, "rank_correlation": rho,
            "rank_n": n, "budget_error_raised": raised, "smallest_macs": smallest, "budget": preset.nas_budget}


def record(ledger, s: dict, path=None) -> None:
    """Record notebook 4's claims from :func:`study`'s result (values computed from the committed table)."""
    from course_lib.claims import artifact, generated

    src = artifact(path or table_path())
    main, more = s["searches"], s["more"]
    worst = max(main[["random_max_macs", "evolution_max_macs"]].max().max(),
                more[["random_max_macs", "evolution_max_macs"]].max().max())
    ledger.record("lp.nas_within_budget", float(worst) / s["budget"], f"{len(main) + len(more)} seeds × 2 searches; "
                  f"largest {int(worst):,} MACs of {s['budget']:,}", source=src)
    ledger.record("lp.nas_budget_error", s["budget_error_raised"], f"budget {s['smallest_macs'] - 1:,} MACs",
                  source=generated("the search space's MAC counts"))
    gaps = main["evolution_minus_random"]
    ledger.record("lp.nas_evolution_vs_random", float(gaps.mean()),
                  f"per seed {', '.join(f'{g:+.1f}' for g in gaps)}; over {len(more)} more seeds mean "
                  f"{more['evolution_minus_random'].mean():+.2f} ± {more['evolution_minus_random'].std():.2f}, "
                  f"evolution ahead in {(more['evolution_minus_random'] > 0).mean():.0%}, tied in "
                  f"{(more['evolution_minus_random'] == 0).mean():.0%}", source=src)
    if s["rank_n"]:
        ledger.record("lp.nas_proxy_rank", s["rank_correlation"], f"Spearman over {s['rank_n']} architectures",
                      source=src)
