"""The course map: the eleven papers, the concepts they share, drawn as a networkx graph."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import matplotlib.pyplot as plt
import networkx as nx
from matplotlib.figure import Figure


@dataclasses.dataclass(frozen=True)
class Paper:
    number: int
    key: str  # course_lib subpackage and notebook folder suffix
    title: str
    citation: str
    concepts: tuple[str, ...]

    @property
    def folder(self) -> str:
        return f"{self.number:02d}_{self.key}"


PAPERS = (
    Paper(1, "lim_net", "LIM-Net: lightweight interactive 3D medical segmentation",
          "Shen et al., arXiv:2412.08315", ("attention", "segmentation", "memory", "interactive learning")),
    Paper(2, "input_iba", "InputIBA: input-domain information-bottleneck attribution",
          "Zhang et al., NeurIPS 2021", ("information bottleneck", "attribution", "adversarial training")),
    Paper(3, "gnn_lf_hf", "GNN-LF/HF: GNN propagation as one optimization objective",
          "Zhu et al., WWW 2021", ("graphs", "spectral filtering", "optimization")),
    Paper(4, "faan", "FAAN: adaptive attentional few-shot KG completion",
          "Sheng et al., EMNLP 2020", ("knowledge graphs", "attention", "few-shot learning")),
    Paper(5, "ote", "OTE / GC-OTE: orthogonal relation transforms for KG embedding",
          "Tang et al., ACL 2020", ("knowledge graphs", "graphs", "orthogonal transforms")),
    Paper(6, "low_power", "Survey of low-power deep learning",
          "Goel et al., WF-IoT 2020", ("compression", "quantization", "distillation")),
    Paper(7, "lm_compression", "Extreme LM compression: small vocabularies, shared projections",
          "Zhao et al., EACL 2021", ("compression", "distillation", "attention")),
    Paper(8, "mcncc", "MCNCC: cross-domain matching with normalized cross-correlation",
          "Kong et al., IJCV 2019", ("correlation", "feature maps", "retrieval")),
    Paper(9, "lct", "LCT: long-term correlation tracking",
          "Ma et al., CVPR 2015", ("correlation", "FFT", "online learning")),
    Paper(10, "relative_position", "Self-attention with relative position representations",
          "Shaw et al., NAACL 2018", ("attention", "sequence models", "graphs")),
    Paper(11, "counting", "Learning to count objects for VQA",
          "Zhang et al., ICLR 2018", ("attention", "graphs", "object detection")),
)


def landed(notebooks_dir: str | Path | None = None) -> list[Paper]:
    """Papers whose notebook series exists in ``notebooks/``."""
    root = Path(notebooks_dir) if notebooks_dir else Path(__file__).resolve().parents[1] / "notebooks"
    return [p for p in PAPERS if (root / p.folder).is_dir()]


def concept_graph() -> nx.Graph:
    """Bipartite graph: paper nodes ("P3") linked to the concept nodes they use."""
    g = nx.Graph()
    for p in PAPERS:
        g.add_node(f"P{p.number}", kind="paper", title=p.title)
        for c in p.concepts:
            g.add_node(c, kind="concept")
            g.add_edge(f"P{p.number}", c)
    return g


def plot_course_map(highlight: str = "all", seed: int = 3) -> Figure:
    """Draw the paper–concept graph; ``highlight`` is a concept or a paper node ("P3") to emphasise, or "all"."""
    g = concept_graph()
    if highlight != "all" and highlight not in g:
        raise ValueError(f"highlight must be 'all', a paper node like 'P3' or a concept; got {highlight!r}")
    pos = nx.spring_layout(g, seed=seed, k=0.9)
    focus = set(g) if highlight == "all" else {highlight, *g.neighbors(highlight)}
    fig, ax = plt.subplots(figsize=(10, 7))
    papers = [n for n in g if g.nodes[n]["kind"] == "paper"]
    concepts = [n for n in g if g.nodes[n]["kind"] == "concept"]
    nx.draw_networkx_edges(g, pos, ax=ax, alpha=0.25,
                           edgelist=[e for e in g.edges if not (set(e) <= focus)])
    nx.draw_networkx_edges(g, pos, ax=ax, width=2.0, edgelist=[e for e in g.edges if set(e) <= focus])
    for nodes, color, size in ((papers, "#1f77b4", 900), (concepts, "#ff7f0e", 500)):
        nx.draw_networkx_nodes(g, pos, nodelist=nodes, ax=ax, node_size=size, node_color=color,
                               alpha=[1.0 if n in focus else 0.25 for n in nodes])
    nx.draw_networkx_labels(g, pos, ax=ax, font_size=8)
    ax.set_title("Course map: papers (blue) and the concepts they share (orange)"
                 + ("" if highlight == "all" else f" — {highlight}"))
    ax.axis("off")
    fig.tight_layout()
    return fig
