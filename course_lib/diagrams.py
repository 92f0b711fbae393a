"""Data-flow diagrams drawn from code: boxes and arrows from a list of nodes and edges (matplotlib + networkx).

Each series draws its architecture diagram with :func:`draw_diagram`, so nothing binary is checked in and the
picture is rebuilt by every run::

    draw_diagram(["patch x", ("fft", "FFT"), "kernel $k^{xz}$", "response"],
                 [("patch x", "fft"), ("fft", "kernel $k^{xz}$"), ("kernel $k^{xz}$", "response", "IFFT")])

Nodes: a label string (its own id), ``(id, label)`` or a dict ``{"id", "label", "kind"}`` where ``kind`` picks
a colour (``"data"``, ``"op"``, ``"model"``, ``"loss"``, ``"decision"``). Edges: ``(src, dst)``,
``(src, dst, label)`` or a dict ``{"src", "dst", "label", "style"}`` (``style="dashed"`` for e.g. a gradient or
a feedback path). The layout is layered along ``direction`` (``"LR"`` or ``"TB"``) by a topological order;
edges that close a cycle (feedback loops) are drawn as curved arrows going back.
"""
from __future__ import annotations

import dataclasses

KIND_COLOURS = {"data": "#e8f1fb", "op": "#fff4df", "model": "#e6f5e6", "loss": "#fbe6e6", "decision": "#efe6fb"}


@dataclasses.dataclass
class Diagram:
    """What was drawn: the figure, node positions (layout units), labels and the edges (back edges flagged)."""

    fig: object
    ax: object
    positions: dict[str, tuple[float, float]]
    labels: dict[str, str]
    edges: list[tuple[str, str, str, bool]]  # (src, dst, label, is_back_edge)
    boxes: dict[str, object]

    def _repr_png_(self):  # a Diagram left as a cell's last value still shows the picture
        import io

        buf = io.BytesIO()
        self.fig.savefig(buf, format="png", bbox_inches="tight")
        return buf.getvalue()


def _parse_nodes(nodes) -> tuple[list[str], dict[str, str], dict[str, str]]:
    ids, labels, kinds = [], {}, {}
    for node in nodes:
        if isinstance(node, str):
            nid, label, kind = node, node, "op"
        elif isinstance(node, tuple) and len(node) in (2, 3):
            nid, label, kind = node[0], node[1], (node[2] if len(node) == 3 else "op")
        elif isinstance(node, dict) and "id" in node:
            nid, label, kind = node["id"], node.get("label", node["id"]), node.get("kind", "op")
        else:
            raise TypeError(f"a node must be a label string, an (id, label[, kind]) tuple or a dict with 'id'; "
                            f"got {node!r}")
        if nid in labels:
            raise ValueError(f"node id {nid!r} appears twice")
        if kind not in KIND_COLOURS:
            raise ValueError(f"unknown node kind {kind!r}; expected one of {sorted(KIND_COLOURS)}")
        ids.append(nid)
        labels[nid], kinds[nid] = str(label), kind
    if not ids:
        raise ValueError("draw_diagram needs at least one node")
    return ids, labels, kinds


def _parse_edges(edges, known: dict[str, str]) -> list[tuple[str, str, str, str]]:
    out = []
    for edge in edges:
        if isinstance(edge, dict):
            src, dst, label, style = edge.get("src"), edge.get("dst"), edge.get("label", ""), edge.get("style", "-")
        elif isinstance(edge, tuple) and len(edge) in (2, 3):
            src, dst, label, style = edge[0], edge[1], (edge[2] if len(edge) == 3 else ""), "-"
        else:
            raise TypeError(f"an edge must be (src, dst), (src, dst, label) or a dict; got {edge!r}")
        for end in (src, dst):
            if end not in known:
                raise ValueError(f"edge {edge!r} names node {end!r}, which is not in nodes ({sorted(known)})")
        if style not in ("-", "solid", "dashed", "--"):
            raise ValueError(f"edge style must be 'solid' or 'dashed', got {style!r}")
        out.append((src, dst, str(label), "--" if style in ("dashed", "--") else "-"))
    return out


def layered_layout(ids: list[str], edges: list[tuple[str, str]], direction: str = "LR"):
    """Positions by topological layers; returns (positions, back_edges). Back edges close cycles."""
    import networkx as nx

    if direction not in ("LR", "TB"):
        raise ValueError(f"direction must be 'LR' or 'TB', got {direction!r}")
    dag = nx.DiGraph()
    dag.add_nodes_from(ids)
    back = set()
    for src, dst in edges:
        if src == dst or nx.has_path(dag, dst, src):
            back.add((src, dst))
        else:
            dag.add_edge(src, dst)
    order = {nid: k for k, nid in enumerate(ids)}
    positions = {}
    for layer, members in enumerate(nx.topological_generations(dag)):
        members = sorted(members, key=order.get)
        for k, nid in enumerate(members):
            offset = k - (len(members) - 1) / 2
            positions[nid] = (float(layer), -float(offset)) if direction == "LR" else (float(offset), -float(layer))
    return positions, back


def draw_diagram(nodes, edges, *, direction: str = "LR", positions: dict | None = None, title: str | None = None,
                 ax=None, spacing: tuple[float, float] = (2.6, 1.3), fontsize: float = 9.0) -> Diagram:
    """Draw boxes (nodes) and arrows (edges); returns the :class:`Diagram` (figure, positions, what was drawn)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    ids, labels, kinds = _parse_nodes(nodes)
    parsed = _parse_edges(edges, labels)
    auto, back = layered_layout(ids, [(s, d) for s, d, _, _ in parsed], direction)
    if positions is not None:
        missing = set(ids) - set(positions)
        if missing:
            raise ValueError(f"positions lacks nodes {sorted(missing)}")
        auto = {nid: (float(positions[nid][0]), float(positions[nid][1])) for nid in ids}
    # boxes fit their text (about 0.09 layout units per character and 0.2 per line at 9 pt); the layer and row
    # spacing grow so that neighbouring boxes keep a gap for the arrows and their labels
    scale_txt = fontsize / 9.0
    longest = max(len(line) for nid in ids for line in labels[nid].split("\n"))
    lines = max(labels[nid].count("\n") + 1 for nid in ids)
    box_w = max(spacing[0] * 0.72, 0.088 * scale_txt * longest + 0.3)
    box_h = max(spacing[1] * 0.62, 0.21 * scale_txt * lines + 0.2)
    spacing = (max(spacing[0], box_w + 0.9), max(spacing[1], box_h + 0.45))
    pos = {nid: (x * spacing[0], y * spacing[1]) for nid, (x, y) in auto.items()}
    pad_x, pad_y = box_w * 0.7, box_h * 1.4
    own_figure = ax is None
    if own_figure:
        fig, ax = plt.subplots()
    else:
        fig = ax.figure
    boxes = {}
    for nid in ids:
        x, y = pos[nid]
        box = FancyBboxPatch((x - box_w / 2, y - box_h / 2), box_w, box_h, boxstyle="round,pad=0.02,rounding_size=0.12",
                             facecolor=KIND_COLOURS[kinds[nid]], edgecolor="#444", linewidth=1.0, zorder=2)
        ax.add_patch(box)
        ax.text(x, y, labels[nid], ha="center", va="center", fontsize=fontsize, zorder=3, wrap=True)
        boxes[nid] = box
    drawn, extent = [], [(x, y) for x, y in pos.values()]
    layer_axis = 0 if direction == "LR" else 1
    for src, dst, label, style in parsed:
        is_back = (src, dst) in back
        span = abs(auto[dst][layer_axis] - auto[src][layer_axis])
        rad = 0.45 if is_back else 0.0
        if span > 1 and not is_back:  # a skip-layer edge bows around the boxes in between
            chord = span * spacing[layer_axis]
            rad = min(1.0, 2 * ((box_h if direction == "LR" else box_w) / 2 + 0.3) / chord)
        ax.annotate("", xy=pos[dst], xytext=pos[src], zorder=1,
                    arrowprops=dict(arrowstyle="-|>", color="#333", lw=1.1, linestyle=style, shrinkA=0, shrinkB=0,
                                    patchA=boxes[src], patchB=boxes[dst], connectionstyle=f"arc3,rad={rad}",
                                    mutation_scale=12))
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        # midpoint of matplotlib's arc3 curve: the chord's midpoint moved by rad/2 times the rotated chord
        mx, my = (x0 + x1) / 2 + rad * (y1 - y0) / 2, (y0 + y1) / 2 - rad * (x1 - x0) / 2
        extent.append((mx, my))
        if label:
            ax.text(mx, my, label, ha="center", va="center", fontsize=fontsize - 1, style="italic", zorder=4,
                    bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.9))
        drawn.append((src, dst, label, is_back))
    ex, ey = [p[0] for p in extent], [p[1] for p in extent]
    ax.set_xlim(min(ex) - pad_x, max(ex) + pad_x)
    ax.set_ylim(min(ey) - pad_y, max(ey) + pad_y)
    if own_figure:  # size the figure to the drawing (about 0.85 inch per layout unit)
        width, height = (max(ex) - min(ex) + 2 * pad_x) * 0.85, (max(ey) - min(ey) + 2 * pad_y) * 0.85
        fig.set_size_inches(min(max(width, 3.0), 30.0), min(max(height, 1.6), 20.0))  # text keeps its size
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=fontsize + 2)
    return Diagram(fig=fig, ax=ax, positions=auto, labels=labels, edges=drawn, boxes=boxes)
