"""course_lib: the importable library behind the eleven-papers workbook.

The small shared core lives at this level (device, scale presets, seeding, data registry, training loop,
claims ledger, interactive views, exercises); each paper has its own subpackage (``course_lib.lim_net``,
``course_lib.gnn_lf_hf``, ...). Notebooks import from here and show the key lines with :func:`show_source`.
"""
from course_lib.device import get_device
from course_lib.notebook import NotebookContext, setup_notebook, show_source
from course_lib.repro import seed_everything, set_threads
from course_lib.scale import SCALES, Preset, get_scale, pick_preset

__version__ = "0.1.0"

__all__ = [
    "SCALES", "NotebookContext", "Preset", "get_device", "get_scale", "pick_preset", "seed_everything",
    "set_threads", "setup_notebook", "show_source", "__version__",
]
