"""Interactive views: a plain plotting function (tested on its own) plus this thin ipywidgets wrapper.

In a live front end :func:`interactive` shows the controls and an output area that re-renders the figure when a
control changes. Headless (``COURSE_HEADLESS=1``: CI, papermill, nbval, ``make run``) it shows the figure for the
default control values as an ordinary static output, so rendered notebooks and tests still see it.
"""
from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from course_lib.notebook import is_headless


def _render(fn: Callable[..., Figure], values: dict) -> Figure:
    fig = fn(**values)
    if not isinstance(fig, Figure):
        raise TypeError(f"{getattr(fn, '__name__', fn)} must return a matplotlib Figure, got {type(fig).__name__}")
    return fig


def interactive(fn: Callable[..., Figure], *, continuous_update: bool = False, **controls) -> None:
    """Show ``fn(**values)`` with one ipywidgets control per keyword (a static figure when headless).

    Returns None, so a call on a cell's last line is not shown a second time as the cell's value.
    """
    from IPython.display import display

    if is_headless():
        _check_controls(controls, continuous_update)
        fig = _render(fn, {name: c.value for name, c in controls.items()})
        display(fig)
        plt.close(fig)
        return
    display(build_interactive(fn, continuous_update=continuous_update, **controls))


def _check_controls(controls: dict, continuous_update: bool) -> None:
    import ipywidgets as widgets

    for name, control in controls.items():
        if not isinstance(control, widgets.ValueWidget):
            raise TypeError(f"control {name!r} must be an ipywidgets value widget (IntSlider, Dropdown, ...), "
                            f"got {type(control).__name__}")
        if hasattr(control, "continuous_update"):
            control.continuous_update = continuous_update
        if not control.description:
            control.description = name


def build_interactive(fn: Callable[..., Figure], *, continuous_update: bool = False, **controls):
    """The live view behind :func:`interactive`: controls + an Output re-rendered on every change (a VBox)."""
    import ipywidgets as widgets
    from IPython.display import display

    _check_controls(controls, continuous_update)
    out = widgets.Output()

    def redraw(_change=None):
        fig = _render(fn, {name: c.value for name, c in controls.items()})
        with out:
            out.clear_output(wait=True)
            display(fig)
        plt.close(fig)

    for control in controls.values():
        control.observe(redraw, names="value")
    box = widgets.VBox([widgets.HBox(list(controls.values()), layout=widgets.Layout(flex_flow="row wrap")), out])
    redraw()
    return box
