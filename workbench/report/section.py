"""``Section``: one part of the report page (its text, tables and figures)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Section", "missing_results"]


@dataclass(frozen=True)
class Section:
    key: str  # anchor and figure-id prefix
    title: str
    html: str = ""  # text and tables, shown before the figures
    figures: tuple = ()  # plotly Figures
    absent: str | None = None  # an optional section that is not there: what is missing and how to make it
    after: str = ""  # text and tables shown after the figures


def missing_results(data, key: str, title: str, files, command: str, what: str | None = None) -> Section | None:
    """The absent Section of an optional part when one of its ``files`` is not in the run folder, naming
    them (or ``what`` they are) and the command that makes them
    (``workbench COMMAND RUN_DIR --layer L``); None when they are all there."""
    if all((data.run_dir / name).is_file() for name in files):
        return None
    named = f"{what} ({', '.join(files)})" if what else ", ".join(files)
    them = "them" if what or len(files) > 1 else "it"
    return Section(key, title, absent=f"no {named} in the run folder: make {them} with "
                                      f"`workbench {command} {data.run_dir} --layer L`")
