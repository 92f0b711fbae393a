"""Annotated source: library code read beside the equation each block implements.

A library author marks the maths in the source itself, so the view can never drift from the code:

* the **docstring** of the function (and of every method of a class) is the note beside its ``def`` line;
* a run of ``#:`` comment lines starts a new block: its text is the note, the code below it (up to the next
  ``#:`` run or the next documented ``def``) is the block. Markdown and LaTeX (``$...$``, ``$$...$$``) allowed.

Ordinary ``#`` comments stay in the code. ``#:`` lines change no behaviour (Python sees plain comments).

In a notebook, :func:`show_annotated` displays a two-column HTML table (note left, code right, as in labml.ai's
annotated implementations) and prints a plain-text version where no HTML front end is attached.
"""
from __future__ import annotations

import ast
import dataclasses
import html
import inspect
import re
import textwrap

MARK = "#:"


@dataclasses.dataclass(frozen=True)
class Block:
    """One annotated block: a note (markdown + LaTeX) and the code lines it explains."""

    note: str
    code: str
    first_line: int  # 1-based line number of the block's first code line in the source file


@dataclasses.dataclass(frozen=True)
class AnnotatedSource:
    """The annotated view of one function or class; displays as HTML in Jupyter and as text elsewhere."""

    name: str
    file: str
    blocks: tuple[Block, ...]

    def to_text(self, width: int = 88) -> str:
        """Plain-text rendering: each note wrapped as ``#|`` lines above its code block."""
        out = [f"# === {self.name}  ({self.file}) ==="]
        for block in self.blocks:
            if block.note:
                for k, para in enumerate(block.note.split("\n\n")):
                    if k:
                        out.append("#|")
                    wrapped = textwrap.wrap(" ".join(para.split()), width=width - 4) or [""]
                    out.extend(f"#| {line}" for line in wrapped)
            if block.code.strip():
                out.append(block.code.rstrip())
            out.append("")
        return "\n".join(out).rstrip() + "\n"

    def to_html(self) -> str:
        """Two-column HTML table: the note (markdown, math as ``\\(..\\)``) left, highlighted code right."""
        rows = []
        for block in self.blocks:
            code = _highlight(block.code) if block.code.strip() else ""
            rows.append(
                '<tr style="vertical-align:top;border-top:1px solid #e5e5e5">'
                f'<td class="annot-note" style="width:42%;padding:4px 12px 4px 4px;text-align:left;'
                f'font-size:0.92em;background:#fafafa">{note_to_html(block.note)}</td>'
                f'<td class="annot-code" style="padding:2px 4px;text-align:left">{code}</td></tr>')
        return ('<div class="annotated-source" style="overflow-x:auto">'
                f'<div style="font-family:monospace;font-size:0.85em;color:#555;margin-bottom:2px">'
                f'{html.escape(self.name)} &nbsp;·&nbsp; {html.escape(self.file)}</div>'
                '<table style="border-collapse:collapse;width:100%;table-layout:auto">'
                + "".join(rows) + "</table></div>")

    def _repr_html_(self) -> str:
        return self.to_html()

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return self.to_text()

    @property
    def notes(self) -> list[str]:
        return [b.note for b in self.blocks]


def annotate(obj) -> AnnotatedSource:
    """Split the source of a function, method or class into (note, code) blocks from its docstrings and ``#:`` runs.

    Raises ``TypeError`` for anything that is not a Python function, method or class (a built-in, a module, an
    instance, a ``functools.partial``), since those have no source of their own to annotate.
    """
    target = inspect.unwrap(obj) if callable(obj) else obj
    if isinstance(target, (staticmethod, classmethod)):
        target = target.__func__
    if inspect.ismethod(target):
        target = target.__func__
    if isinstance(target, property):
        target = target.fget
    if not (inspect.isfunction(target) or inspect.isclass(target)):
        raise TypeError(f"annotate/show_annotated expects a Python function, method or class defined in source, "
                        f"got {type(obj).__name__} ({obj!r:.60})")
    try:
        lines, start = inspect.getsourcelines(target)
        file = inspect.getsourcefile(target) or "?"
    except (OSError, TypeError) as exc:
        raise TypeError(f"no source available for {obj!r:.60} (defined interactively or in a compiled module)") \
            from exc
    source = textwrap.dedent("".join(lines))
    name = f"{target.__module__}.{target.__qualname__}"
    return AnnotatedSource(name=name, file=_short_path(file), blocks=tuple(_split(source, start)))


def show_annotated(*objs) -> None:
    """Display the annotated view of each given function/class (HTML in Jupyter, plain text otherwise)."""
    views = [annotate(o) for o in objs]  # validate all before showing any
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython ships with the course environment
        get_ipython = None
    shell = get_ipython() if get_ipython else None
    for view in views:
        if shell is not None and type(shell).__name__ != "TerminalInteractiveShell":
            display(view)
        else:
            print(view.to_text())


# ---------------------------------------------------------------------------------------------------------------
def _split(source: str, first_lineno: int) -> list[Block]:
    src_lines = source.splitlines()
    tree = ast.parse(source)
    doc_at: dict[int, tuple[str, int, int]] = {}  # header line (0-based) -> (docstring, doc start, doc end)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            doc = ast.get_docstring(node)
            if doc is not None:
                header = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
                expr = node.body[0]
                doc_at[header] = (doc, expr.lineno - 1, expr.end_lineno - 1)
    skip: set[int] = set()
    for _, lo, hi in doc_at.values():
        skip.update(range(lo, hi + 1))

    blocks: list[list] = []  # [note parts, code lines, first code line]

    def start_block(note: str) -> None:
        if blocks and not any(line.strip() for line in blocks[-1][1]):
            blocks[-1][0].append(note)  # consecutive notes with no code between them merge
        else:
            blocks.append([[note], [], None])

    i = 0
    while i < len(src_lines):
        line = src_lines[i]
        stripped = line.strip()
        if i in doc_at:
            start_block(doc_at[i][0])
        if stripped.startswith(MARK):
            note_lines = []
            while i < len(src_lines) and src_lines[i].strip().startswith(MARK):
                text = src_lines[i].strip()[len(MARK):]
                note_lines.append(text[1:] if text.startswith(" ") else text)
                i += 1
            start_block("\n".join(note_lines).strip())
            continue
        if i not in skip:
            if not blocks:
                blocks.append([[], [], None])
            if blocks[-1][2] is None and stripped:
                blocks[-1][2] = first_lineno + i
            blocks[-1][1].append(line)
        i += 1
    out = []
    for notes, code, first in blocks:
        code_text = "\n".join(code).strip("\n")
        note = "\n\n".join(n for n in notes if n)
        if note or code_text.strip():
            out.append(Block(note=note, code=code_text if code_text.strip() else "", first_line=first or first_lineno))
    return out


def _short_path(file: str) -> str:
    parts = file.replace("\\", "/").split("/")
    return "/".join(parts[parts.index("course_lib"):]) if "course_lib" in parts else parts[-1]


_MATH = re.compile(r"(\$\$.+?\$\$|\$[^$\n]+?\$)", re.S)


def note_to_html(note: str) -> str:
    """Markdown to HTML with the LaTeX left intact (as MathJax ``\\(..\\)`` / ``\\[..\\]`` delimiters)."""
    if not note:
        return ""
    import mistune

    maths: list[str] = []

    def stash(m: re.Match) -> str:
        tex = m.group(0)
        display = tex.startswith("$$")
        body = html.escape(tex[2:-2] if display else tex[1:-1], quote=False)
        maths.append(f"\\[{body}\\]" if display else f"\\({body}\\)")
        return f"MATHPLACEHOLDER{len(maths) - 1}X"

    rendered = mistune.html(_MATH.sub(stash, note))
    return re.sub(r"MATHPLACEHOLDER(\d+)X", lambda m: maths[int(m.group(1))], rendered)


def _highlight(code: str) -> str:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    fmt = HtmlFormatter(noclasses=True, nowrap=False, style="default",
                        prestyles="margin:0;background:transparent;font-size:0.85em;line-height:1.3")
    return highlight(code, PythonLexer(), fmt)
