"""The report page: one index.html with every PNG or SVG figure embedded as a data URI (the page alone is the
whole report) and every PDF figure shown from its file beside the page; each caption links its file."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

from .style import MIME, Figure

CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2rem auto; max-width: 1200px;
       color: #222; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
figure { margin: 1rem 0 2rem; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figure object { width: 100%; border: 1px solid #eee; }
figcaption { font-size: .9rem; color: #444; max-width: 60rem; }
table { border-collapse: collapse; font-size: .9rem; margin: .5rem 0 1.5rem; }
td, th { border: 1px solid #ddd; padding: .2rem .6rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
p.meta { color: #666; font-size: .85rem; }
pre { background: #f6f8fa; padding: .8rem; overflow-x: auto; font-size: .8rem; }
"""


@dataclass
class Section:
    """A heading with an optional table of (label, value) rows, links and figures."""

    heading: str
    figures: list[Figure] = field(default_factory=list)
    numbers: list[tuple[str, ...]] = field(default_factory=list)
    """(label, value) rows; a third item is the stored key, shown as the label's tooltip."""
    links: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""
    grid: tuple[list[str], list[list[str]]] | None = None
    """A table with a header row: (column names, rows of cells; the first cell of a row is its label)."""
    grid_keys: list[str] = field(default_factory=list)
    """The stored key of each column of `grid` ("" for none), shown as its header's tooltip."""
    code: str = ""
    """Preformatted text (the spec), in a collapsible block."""


def _data_uri(path: Path) -> str:
    return f"data:{MIME[path.suffix[1:]]};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _tooltip(key: str) -> str:
    return f' title="{html.escape(key)}"' if key else ""


def figure_html(f: Figure) -> str:
    """A figure with its caption: PNG and SVG embedded, a PDF shown from its file beside the page (browsers
    draw PDFs in an object, not an image), its caption linking the file."""
    esc = html.escape
    name = esc(f.path.name)
    link = ""
    if f.path.suffix == ".pdf":
        width, height = f.size
        shown = (f'<object data="{name}" type="application/pdf" style="aspect-ratio: {width:.3g} / {height:.3g}">'
                 f'<a href="{name}">{name}</a></object>')
        link = f' <a href="{name}">{name}</a>'
    else:
        shown = f'<img src="{_data_uri(f.path)}" alt="{esc(f.title)}">'
    return (f'<figure id="{esc(f.path.stem)}">{shown}<figcaption><b>{esc(f.title)}.</b> {esc(f.caption)}{link}'
            '</figcaption></figure>')


def render(title: str, meta: list[str], sections: list[Section]) -> str:
    """The page as a string."""
    esc = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{esc(title)}</title><style>{CSS}</style>",
             # An inline favicon, so the browser does not ask the file system for /favicon.ico.
             '<link rel="icon" href="data:,">', "</head><body>", f"<h1>{esc(title)}</h1>"]
    parts += [f'<p class="meta">{esc(line)}</p>' for line in meta]
    for s in sections:
        parts.append(f"<section><h2>{esc(s.heading)}</h2>")
        if s.text:
            parts.append(f"<p>{esc(s.text)}</p>")
        if s.numbers:
            parts.append("<table>")
            parts += [f'<tr><th{_tooltip(row[2] if len(row) > 2 else "")}>{esc(row[0])}</th>'
                      f'<td class="num">{esc(row[1])}</td></tr>' for row in s.numbers]
            parts.append("</table>")
        if s.grid is not None:
            header, rows = s.grid
            keys = list(s.grid_keys) + [""] * (len(header) - len(s.grid_keys))
            parts.append("<table><tr>" + "".join(f"<th{_tooltip(k)}>{esc(h)}</th>" for h, k in zip(header, keys))
                         + "</tr>")
            parts += ["<tr>" + f"<th>{esc(r[0])}</th>" + "".join(f'<td class="num">{esc(c)}</td>' for c in r[1:])
                      + "</tr>" for r in rows]
            parts.append("</table>")
        if s.code:
            parts.append(f"<details><summary>show</summary><pre><code>{esc(s.code)}</code></pre></details>")
        if s.links:
            parts.append("<ul>")
            parts += [f'<li><a href="{esc(href)}">{esc(label)}</a></li>' for label, href in s.links]
            parts.append("</ul>")
        parts += [figure_html(f) for f in s.figures]
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_page(out_dir: Path, title: str, meta: list[str], sections: list[Section]) -> Path:
    """Write OUT_DIR/index.html (atomically: a temporary file renamed into place)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / ".index.html.tmp"
    tmp.write_text(render(title, meta, sections), encoding="utf-8")
    final = out_dir / "index.html"
    tmp.replace(final)
    return final
