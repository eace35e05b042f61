"""Moved to :mod:`workbench.runfolder.manifest` (the run folder's manifest, format version and versions);
the names stay importable from here."""

from workbench.io import sha256_file
from workbench.runfolder.manifest import (
    FORMAT_VERSION,
    MANIFEST_FILE,
    drop_manifest_section,
    update_manifest,
    versions,
)

__all__ = ["update_manifest", "drop_manifest_section", "sha256_file", "versions", "MANIFEST_FILE", "FORMAT_VERSION"]
