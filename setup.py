"""Build-time mapping of the bundled files (everything else is in pyproject.toml).

The top-level ``data/`` and ``hooks/`` folders stay the source; a wheel carries
them inside the package as ``workbench/_data`` and ``workbench/_hooks``, where
:mod:`workbench.resources` finds them.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["workbench", "workbench.*"])
    + ["workbench._data", "workbench._data.stories", "workbench._hooks"],
    package_dir={"workbench._data": "data", "workbench._hooks": "hooks"},
    package_data={"workbench._data": ["*.csv", "*.txt", "*.jsonl", "*.md"], "workbench._data.stories": ["*.jsonl"],
                  "workbench._hooks": ["*.py", "*.md"]},
)
