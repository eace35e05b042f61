"""The HTML report of a run folder, and the token view it shows.

``write_report(run_dir)`` writes ``RUN_DIR/report.html``: one self-contained page
(plotly.js inlined, works offline from a file) with the figures, the headline
numbers, the per-layer table and the manifest. The page is a list of section
functions (:data:`SECTIONS`); optional sections that are missing say so.
Its names are imported on first use (:mod:`workbench._lazy`).
"""

from typing import TYPE_CHECKING

from workbench._lazy import lazy_package

__all__ = ["write_report", "build_report", "figure_page", "load_run", "load_run_model", "check_run_folder",
           "RunData", "run_label", "SECTIONS", "Section", "token_projections", "make_token_view", "example_texts",
           "TokenView", "TokenText"]

if TYPE_CHECKING:  # the public names and their modules: the lazy table (workbench._lazy)
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

lazy_package(__name__)
