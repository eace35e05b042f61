"""The HTML report of a run folder, and the token view it shows.

``write_report(run_dir)`` writes ``RUN_DIR/report.html``: one self-contained page
(plotly.js inlined, works offline from a file) with the figures, the headline
numbers, the per-layer table and the manifest. The page is a list of section
functions (:data:`SECTIONS`); optional sections that are missing say so.
The names below are imported on first use (:mod:`workbench._lazy`).
"""

from typing import TYPE_CHECKING

from workbench._lazy import lazy_package

# name -> module that defines it
_EXPORTS = {
    "build_report": "workbench.report.build",
    "figure_page": "workbench.report.build",
    "write_report": "workbench.report.build",
    "RunData": "workbench.report.folder",
    "check_run_folder": "workbench.report.folder",
    "load_run": "workbench.report.folder",
    "load_run_model": "workbench.report.folder",
    "run_label": "workbench.report.folder",
    "SECTIONS": "workbench.report.sections",
    "Section": "workbench.report.sections",
    "TokenText": "workbench.report.tokens",
    "TokenView": "workbench.report.tokens",
    "example_texts": "workbench.report.tokens",
    "make_token_view": "workbench.report.tokens",
    "token_projections": "workbench.report.tokens",
}

__all__ = ["write_report", "build_report", "figure_page", "load_run", "load_run_model", "check_run_folder",
           "RunData", "run_label", "SECTIONS", "Section", "token_projections", "make_token_view", "example_texts",
           "TokenView", "TokenText"]

if TYPE_CHECKING:  # the names the table resolves to, for type checkers (tests/test_import_cycles.py)
    from workbench.report.build import build_report, figure_page, write_report
    from workbench.report.folder import RunData, check_run_folder, load_run, load_run_model, run_label
    from workbench.report.sections import SECTIONS, Section
    from workbench.report.tokens import (
        TokenText,
        TokenView,
        example_texts,
        make_token_view,
        token_projections,
    )

lazy_package(__name__, _EXPORTS)
