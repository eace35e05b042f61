"""One self-contained HTML page from a run folder: plotly.js inlined once, no CDN, opens from file://."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.io import atomic_write_text
from workbench.report.tables import esc

if TYPE_CHECKING:
    from workbench.data.ratings import Ratings

__all__ = ["build_report", "write_report", "figure_page", "REPORT_FILE"]

REPORT_FILE = "report.html"
FIGURE_CONFIG = {"responsive": True, "displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}

_CSS = """
body{font-family:Inter,Helvetica,Arial,sans-serif;color:#222;margin:0;background:#fafafa}
main{max-width:1280px;margin:0 auto;padding:8px 28px 60px;background:#fff}
h1{font-size:24px;margin:18px 0 4px}h2{font-size:19px;margin:34px 0 8px;border-bottom:1px solid #ddd}
.sub{color:#666;font-size:13px;margin:0 0 12px}nav a{margin-right:14px;font-size:14px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px}
th{background:#f3f3f3;text-align:left}table.layers td{text-align:right;font-variant-numeric:tabular-nums}
table.kv td:first-child,table.headline td:first-child{font-weight:600;white-space:nowrap}
.absent{background:#fff6e0;border:1px solid #e8c66a;padding:8px 12px;margin:8px 0;font-size:14px}
pre{font-size:11px;max-height:420px;overflow:auto;background:#f6f6f6;padding:8px}
.figure{margin:10px 0 18px}details summary{cursor:pointer;margin:6px 0}
"""


def _plotlyjs() -> str:
    from plotly.offline import get_plotlyjs

    return ('<script type="text/javascript">window.PlotlyConfig = {MathJaxConfig: "local"};</script>\n'
            f'<script charset="utf-8" type="text/javascript">{get_plotlyjs()}</script>')


def _figure_div(fig, div_id: str) -> str:
    return ('<div class="figure">' + fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                                                 config=FIGURE_CONFIG, auto_play=False, default_width="100%",
                                                 default_height=f"{int(fig.layout.height or 480)}px") + "</div>")


def _page(title: str, subtitle: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{_CSS}</style>\n{_plotlyjs()}\n</head>\n"
            f'<body><main><h1>{esc(title)}</h1><p class="sub">{esc(subtitle)}</p>\n{body}\n</main></body></html>\n')


def build_report(run, sections=None) -> str:
    """The report page of ``run`` (a run folder path or :class:`RunData`) as an HTML string.

    ``sections``: the section functions, in order (default :data:`SECTIONS`).
    """
    from workbench.report.folder import RunData, load_run
    from workbench.report.sections import SECTIONS

    data = run if isinstance(run, RunData) else load_run(run)
    built = [fn(data) for fn in (SECTIONS if sections is None else sections)]
    label = data.label
    nav = "<nav>" + "".join(f'<a href="#{esc(s.key)}">{esc(s.title)}</a>' for s in built) + "</nav>"
    absent = [s for s in built if s.absent]
    parts = [nav]
    if absent:
        items = "".join(f"<li><b>{esc(s.title)}</b>: {esc(s.absent)}</li>" for s in absent)
        parts.append(f'<div class="absent" id="absent-sections">Sections not in this report:<ul>{items}</ul></div>')
    for s in built:
        parts.append(f'<section id="{esc(s.key)}"><h2>{esc(s.title)}</h2>')
        if s.absent:
            parts.append(f'<div class="absent">Not in this report: {esc(s.absent)}.</div>')
        parts.append(s.html)
        parts.extend(_figure_div(fig, f"fig-{s.key}-{i}") for i, fig in enumerate(s.figures))
        parts.append(s.after)
        parts.append("</section>")
    when = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    subtitle = (f"run folder {data.run_dir} · {len(data.report.emotions)} emotions · {len(data.report.layers)} "
                f"layers · report made {when}")
    return _page(f"workbench report: {label['model']} · {label['corpus']}", subtitle, "\n".join(parts))


def write_report(run_dir: str | Path, out: str | Path | None = None, ratings: Ratings | None = None,
                 sections: Sequence[Callable] | None = None) -> Path:
    """Write the report of ``run_dir`` to ``out`` (default ``RUN_DIR/report.html``), atomically."""
    import contextlib

    from workbench.report.folder import load_run
    from workbench.runfolder import check_output_file, run_lock, same_path

    run_dir = Path(run_dir)
    own = run_dir / REPORT_FILE
    out = own if out is None else Path(out)
    check_output_file(out, "out", allowed=own)  # never over a run's own files
    with run_lock(run_dir) if same_path(out, own) else contextlib.nullcontext():
        data = load_run(run_dir, ratings)
        return atomic_write_text(out, build_report(data, sections))


def figure_page(figures, title: str, subtitle: str = "") -> str:
    """A self-contained page with ``figures`` (e.g. the multi-run depth figure of ``workbench compare``)."""
    body = "\n".join(_figure_div(fig, f"fig-{i}") for i, fig in enumerate(figures))
    return _page(title, subtitle, body)
