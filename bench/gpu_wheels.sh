#!/usr/bin/env bash
# Wheels for bench/gpu_check.py on a GPU machine that has no network and only torch + transformers.
#
#   bench/gpu_wheels.sh [OUT_DIR]        # default bench/wheels (git-ignored: carry it to the machine)
#   there: python -m pip install --no-index --find-links bench/wheels -r bench/wheels/requirements.txt
#          python bench/gpu_check.py
#
# What goes in: every distribution the check imports here (found by importing the modules its rows
# use, then mapping sys.modules to distributions), at the versions installed here, minus what torch
# and transformers already bring (their own dependency closure). Pure-Python wheels run anywhere;
# the few binary ones (hivemind's p2p daemon, uvloop, msgpack, ...) are fetched for the target's
# CPython version and platform: TARGET_PYTHON (default: this interpreter's, e.g. 311) and
# TARGET_PLATFORM (default manylinux2014_x86_64). pip fetches them once, here, where there is network.
# EXCLUDE (default "scipy pillow": 42 MB that peft imports but the check does not use, and which
# CUDA images with transformers usually have) keeps the folder under the 64 MiB a device run carries.
set -euo pipefail

OUT="${1:-bench/wheels}"
PYTHON="${PYTHON:-.venv/bin/python}"
TARGET_PYTHON="${TARGET_PYTHON:-$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')}"
TARGET_PLATFORM="${TARGET_PLATFORM:-manylinux2014_x86_64}"
export EXCLUDE="${EXCLUDE-scipy pillow}"
mkdir -p "$OUT"

"$PYTHON" - "$OUT/requirements.txt" <<'EOF'
"""Write name==version for what the GPU check imports beyond torch, transformers and their deps."""
import importlib.metadata as md
import os
import re
import sys

sys.path.insert(0, ".")
import trainer.training.checkpoint, trainer.training.model, trainer.training.plan, trainer.training.swarm  # noqa: E401,F401 (what the rows use)
import peft  # noqa: F401 (the LoRA row)


def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(roots):
    seen, todo = set(), [norm(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for req in requires:
            if "extra ==" in req:
                continue
            todo.append(norm(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0]))
    return seen


by_module = md.packages_distributions()
# the project itself travels as the working tree: its own (chain, dev) requirements are not needed
imported = {norm(d) for m in list(sys.modules) for d in by_module.get(m.split(".")[0], [])} - {"injective-ai-hub"}
present = closure(["torch", "transformers"])
# transformers at the project's pin (a GPU image's own was 5.17 against our 5.24), and pydantic, which
# the trainer's config imports and which an H200 image with torch + transformers lacked
always = {"transformers", "pydantic", "pydantic-core", "annotated-types", "typing-inspection"}
wanted = sorted((closure(imported) - present | always) - {norm(n) for n in os.environ["EXCLUDE"].split()})
with open(sys.argv[1], "w") as out:
    for name in wanted:
        try:
            out.write(f"{name}=={md.version(name)}\n")
        except md.PackageNotFoundError:
            pass
print(f"{len(wanted)} distributions beyond torch + transformers: {', '.join(wanted)}")
EOF

# one by one, so a version the index lacks is named instead of stopping the rest; binary wheels for
# the target where they exist, pure-Python ones are the same everywhere
missing=()
while read -r pin; do
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --dest "$OUT" \
        --python-version "$TARGET_PYTHON" --platform "$TARGET_PLATFORM" --platform any "$pin" \
        >/dev/null 2>&1 ||
        # no wheel on the index: a pure-Python sdist is built into one here
        "$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$OUT" "$pin" >/dev/null 2>&1 ||
        missing+=("$pin")
done < "$OUT/requirements.txt"
du -sh "$OUT"
if ((${#missing[@]})); then
    echo "not found as wheels for cp$TARGET_PYTHON/$TARGET_PLATFORM (install them there another way): ${missing[*]}"
fi
