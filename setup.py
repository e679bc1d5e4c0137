"""The wheel ships the contracts: setuptools' build step copies contracts_vy/ into the `hub` package
and compiles it there with the pinned vyper (`hub.build`), so `pip install injective-ai-hub`
deploys with no compiler and `hub deploy` checks every artifact against the sha256 of the shipped
sources. Everything else about the package is in pyproject.toml.

An editable install skips this: it reads contracts_vy/ and compiles into build/ of the checkout.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithContracts(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        package = Path(self.build_lib) / "hub"
        sources = package / "contracts_vy"
        shutil.rmtree(sources, ignore_errors=True)
        shutil.copytree(ROOT / "contracts_vy", sources, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        # the package being built compiles its own contracts: the same code `hub build` runs
        sys.path.insert(0, str(ROOT))
        from hub.build import build

        build(sources, package / "artifacts", jobs=1)  # no worker processes inside a build backend


setup(cmdclass={"build_py": BuildPyWithContracts})
