"""``Section``: one part of the report page (its text, tables and figures)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Section"]


@dataclass(frozen=True)
class Section:
    key: str  # anchor and figure-id prefix
    title: str
    html: str = ""  # text and tables, shown before the figures
    figures: tuple = ()  # plotly Figures
    absent: str | None = None  # an optional section that is not there: what is missing and how to make it
    after: str = ""  # text and tables shown after the figures
