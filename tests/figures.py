"""What a matplotlib figure shows, as plain data, so view tests can assert that a figure depends on its input."""
from __future__ import annotations

import numpy as np


def texts(fig) -> list[str]:
    """Suptitle, axes titles, axis labels, legend entries and text artists of every axes."""
    out = [fig._suptitle.get_text()] if fig._suptitle is not None else []
    for ax in fig.axes:
        out += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        out += [t.get_text() for t in ax.texts]
        legend = ax.get_legend()
        if legend is not None:
            out += [t.get_text() for t in legend.get_texts()]
    return [t for t in out if t]


def data(fig) -> list[np.ndarray]:
    """The numbers drawn: line data, image arrays, bar/patch geometry and scatter offsets of every axes."""
    out = []
    for ax in fig.axes:
        for line in ax.get_lines():
            out.append(np.asarray(line.get_xydata(), dtype=float).ravel())
        for image in ax.get_images():
            out.append(np.asarray(image.get_array(), dtype=float).ravel())
        for patch in ax.patches:
            if hasattr(patch, "get_height"):
                out.append(np.array([patch.get_x(), patch.get_y(), patch.get_width(), patch.get_height()], float))
        for coll in ax.collections:
            offsets = np.asarray(coll.get_offsets(), dtype=float).ravel()
            if offsets.size:
                out.append(offsets)
            arr = coll.get_array()
            if arr is not None:
                out.append(np.asarray(arr, dtype=float).ravel())
    return out


def differ(fig_a, fig_b) -> bool:
    """True when the two figures draw different numbers or different text."""
    if texts(fig_a) != texts(fig_b):
        return True
    a, b = data(fig_a), data(fig_b)
    return len(a) != len(b) or any(x.shape != y.shape or not np.allclose(x, y, equal_nan=True) for x, y in zip(a, b))
