"""Moved to :mod:`workbench.runfolder.integrity` (checksums, damage named by file, stale dependents);
the names stay importable from here."""

from workbench.runfolder.integrity import check_digests, damaged, stale_reason, stamp

__all__ = ["damaged", "check_digests", "stamp", "stale_reason"]
