#!/usr/bin/env bash
# The wheel, installed non-editable into a fresh venv outside the checkout, runs the main job offline.
#
# Builds the wheel with the project venv's setuptools (no build isolation: nothing is downloaded), creates
# a new venv in a temporary folder, installs the wheel there with --no-deps, and makes the project venv's
# site-packages (the dependencies only: its editable workbench is a .pth hook that a plain path line does
# not run) visible through one .pth line. From a working directory outside the checkout it then checks
# that workbench is imported from the new venv, reads the bundled ratings, corpus, neutral texts, topics,
# steering prompts and hook recipes, and runs `workbench run --emotions 8` to a report.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=${VENV:-.venv}  # the project venv (relative to the checkout, or absolute)
[[ $venv = /* ]] || venv=$root/$venv
py=$venv/bin/python
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
start=$(date +%s)
work=$(mktemp -d /tmp/workbench-wheel.XXXXXX)
trap 'rm -rf "$work"' EXIT

rm -rf build
"$py" -m pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation -w "$work/dist" "$root"
rm -rf build
"$py" -m venv --without-pip "$work/venv"
"$py" -m pip --python "$work/venv/bin/python" install -q --disable-pip-version-check --no-deps "$work"/dist/*.whl
deps=$("$py" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
site=$("$work/venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
echo "$deps" > "$site/project-venv-deps.pth"

mkdir "$work/cwd" && cd "$work/cwd"
unset PYTHONPATH
"$work/venv/bin/python" - "$site" <<'PY'
import sys
from pathlib import Path

import workbench as wb
from workbench.data.generate import load_topics
from workbench.data.neutral import load_neutral_texts
from workbench.steer import available_recipes, load_prompts, load_recipe

site = Path(sys.argv[1]).resolve()
where = Path(wb.__file__).resolve()
assert site in where.parents, f"workbench imported from {where}, not from the wheel in {site}"
ratings, corpus = wb.load_ratings(), wb.load_corpus("bundled")
recipe = load_recipe("add_direction")
from workbench.steer.recipes import add_direction  # noqa: E402

assert recipe is add_direction and callable(recipe)
assert available_recipes() == ["ablate_direction", "add_direction", "clamp_direction"], available_recipes()
assert len(ratings.emotions) >= 100 and len(corpus) >= 100, (len(ratings.emotions), len(corpus))
print(f"wheel install {where.parent}: {len(ratings.emotions)} ratings, corpus bundled {len(corpus)} stories, "
      f"{len(load_neutral_texts())} neutral texts, {len(load_topics())} topics, {len(load_prompts())} steering "
      f"prompts, recipes {available_recipes()}")
PY
"$work/venv/bin/workbench" --help > /dev/null
"$work/venv/bin/workbench" run --emotions 8 --out runs/e8 --no-progress
test -s runs/e8/report.html
echo "wheel check passed in $(( $(date +%s) - start )) s"
