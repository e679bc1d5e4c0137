"""Reproducible contract build: contracts_vy/ -> build/<Name>.json + build/manifest.json.

Deployable contracts are the `.vy` files anywhere under contracts_vy/ except in a `modules/` or
`interfaces/` folder, which are only imported (so a new folder such as `governance/` needs no list
to change). Each is compiled with the pinned vyper through its Python API
(search path rooted at contracts_vy/, so `from modules import x` resolves) into an artifact with the
ABI, initcode, runtime code and its size (flagged when over EIP-170's 24,576 bytes), the sha256 of
every source file that went into it, vyper's integrity hash, and the compiler version.

Output is byte-for-byte reproducible: sorted keys, fixed indentation, no timestamps, and paths
relative to the directory holding contracts_vy/. `load_artifact(name)`, which `hub deploy` uses,
never compiles: it refuses, naming the fix, when any recorded source changed, a deployable contract
appeared or disappeared, or the installed compiler differs; `build_if_stale()` rebuilds instead
(the demo and the test session use it). The wheel ships artifacts built by setup.py, so an
installed `hub` deploys without vyper.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from hashlib import sha256
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from hub import paths
from hub.errors import HubError

ARTIFACT_FORMAT = "injective-ai-hub/artifact/1"
MANIFEST_FORMAT = "injective-ai-hub/build-manifest/1"
MANIFEST_NAME = "manifest.json"
# @dev EIP-170: the largest runtime code a contract may have.
EIP170_LIMIT = 24_576
# @dev Folders (at any depth under contracts_vy/) whose .vy files are imported, never deployed.
IMPORT_ONLY_DIRS = frozenset({"modules", "interfaces"})
NO_BUILD = "no build yet"
# @dev The command that regenerates stale artifacts, and what it needs installed.
REBUILD_HINT = "run `hub build` (it needs the build extra: pip install 'injective-ai-hub[build]')"


class Artifact(BaseModel):
    """build/<Name>.json."""

    format: str
    contract_name: str
    source_path: str
    abi: list[dict[str, Any]]
    bytecode: str
    bytecode_runtime: str
    runtime_size: int
    initcode_size: int
    runtime_size_limit: int
    over_eip170_limit: bool
    sources: dict[str, str]
    integrity: str
    compiler: str
    compiler_version: str
    settings: dict[str, Any]


class ManifestEntry(BaseModel):
    artifact: str
    artifact_sha256: str
    source_path: str
    sources: dict[str, str]
    runtime_size: int
    over_eip170_limit: bool


class Manifest(BaseModel):
    """build/manifest.json: what was built from what, to check staleness without compiling."""

    format: str
    compiler: str
    compiler_version: str
    contracts_dir: str
    contracts: dict[str, ManifestEntry]


def _dumps(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=True) + "\n").encode()


def _file_sha256(path: Path) -> str:
    return sha256(path.read_bytes()).hexdigest()


def _rel(path: Path, root: Path) -> str:
    """`path` relative to `root`, POSIX style (`..` segments if it lies outside)."""
    return Path(os.path.relpath(path.resolve(), root.resolve())).as_posix()


def deployable_sources(contracts_dir: Path) -> dict[str, Path]:
    """Contract name -> source file, for every deployable contract, sorted by name."""
    found: dict[str, Path] = {}
    for path in sorted(contracts_dir.rglob("*.vy")):
        if IMPORT_ONLY_DIRS & set(path.relative_to(contracts_dir).parts[:-1]):
            continue
        if path.stem in found:
            raise HubError(
                f"two deployable contracts named {path.stem}: {found[path.stem]} and {path}",
                hint="rename one: artifact names are file stems",
            )
        found[path.stem] = path
    return dict(sorted(found.items()))


def _compile_error(exc: Exception, fallback: str, project_root: Path) -> HubError:
    """A one-line error `path:line: ErrorType: message`; vyper's full text goes to `detail`."""
    text = str(exc)
    where = fallback
    # vyper names the place as `contract "<path relative to the cwd>:<line>"`
    match = re.search(r'contract "([^"]+?)(?::(\d+))?"', text)
    if match:
        where = _rel(Path.cwd() / match.group(1), project_root)
        if match.group(2):
            where += f":{match.group(2)}"
    message = text.strip().splitlines()[0] if text.strip() else ""
    return HubError(
        f"{where}: {type(exc).__name__}: {message}",
        hint="`hub --debug build` shows the compiler's full message",
        detail=text,
    )


def compile_contract(source: Path, contracts_dir: Path) -> Artifact:
    """Compile one deployable contract; imports resolve from `contracts_dir`."""
    import vyper
    from vyper.compiler import outputs_from_compiler_data
    from vyper.compiler.input_bundle import FilesystemInputBundle
    from vyper.compiler.phases import CompilerData
    from vyper.compiler.settings import Settings
    from vyper.exceptions import VyperException

    contracts_dir = contracts_dir.resolve()
    project_root = contracts_dir.parent
    source_path = _rel(source, project_root)
    bundle = FilesystemInputBundle([contracts_dir])
    file_input = bundle.load_file(Path(_rel(source, contracts_dir)))
    data = CompilerData(file_input, bundle, settings=Settings())
    try:
        out = outputs_from_compiler_data(data, ["abi", "bytecode", "bytecode_runtime", "integrity"])
    except VyperException as exc:
        raise _compile_error(exc, source_path, project_root) from exc
    inputs = [i for i in data.resolved_imports.compiler_inputs if not i.from_builtin]
    files = {Path(i.resolved_path) for i in inputs} | {source.resolve()}
    runtime_size = (len(out["bytecode_runtime"]) - 2) // 2
    return Artifact(
        format=ARTIFACT_FORMAT,
        contract_name=source.stem,
        source_path=source_path,
        abi=out["abi"],
        bytecode=out["bytecode"],
        bytecode_runtime=out["bytecode_runtime"],
        runtime_size=runtime_size,
        initcode_size=(len(out["bytecode"]) - 2) // 2,
        runtime_size_limit=EIP170_LIMIT,
        over_eip170_limit=runtime_size > EIP170_LIMIT,
        sources={_rel(f, project_root): _file_sha256(f) for f in sorted(files)},
        integrity=out["integrity"],
        compiler="vyper-" + vyper.__long_version__,
        compiler_version=vyper.__version__,
        settings={k: str(v) for k, v in data.settings.as_dict().items()},
    )


def _write_if_changed(path: Path, content: bytes) -> None:
    if not path.exists() or path.read_bytes() != content:
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(content)
        partial.rename(path)


def _resolve_dirs(contracts_dir: Path | None, out_dir: Path | None) -> tuple[Path, Path]:
    contracts = (contracts_dir or paths.contracts_dir()).resolve()
    if not contracts.is_dir():
        raise HubError(f"no contracts folder at {contracts}", hint="pass --contracts DIR")
    return contracts, (out_dir or paths.build_dir(contracts)).resolve()


def _compile_all(
    sources: dict[str, Path], contracts: Path, jobs: int, on_contract: Callable[[str], None] | None
) -> dict[str, Artifact]:
    """Compile in `jobs` worker processes (vyper is single-threaded and CPU-bound)."""
    if jobs <= 1 or len(sources) <= 1:
        done = {}
        for name, source in sources.items():
            done[name] = compile_contract(source, contracts)
            if on_contract is not None:
                on_contract(name)
        return done
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn, not fork: the caller may have threads (a web server, a test harness)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(sources)), mp_context=context) as pool:
        futures = {pool.submit(compile_contract, src, contracts): name for name, src in sources.items()}
        done = {}
        for future in as_completed(futures):
            done[futures[future]] = future.result()
            if on_contract is not None:
                on_contract(futures[future])
    return {name: done[name] for name in sources}


def build(
    contracts_dir: Path | None = None,
    out_dir: Path | None = None,
    *,
    jobs: int | None = None,
    on_contract: Callable[[str], None] | None = None,
) -> Manifest:
    """Compile every deployable contract into `out_dir` and write the manifest.

    `jobs` worker processes compile in parallel (default: one per CPU). `on_contract(name)` is
    called as each contract finishes (for progress display). Artifacts of contracts that no
    longer exist are removed; other files in `out_dir` are left alone.
    """
    contracts, out = _resolve_dirs(contracts_dir, out_dir)
    sources = deployable_sources(contracts)
    if not sources:
        raise HubError(f"no deployable contracts (*.vy) in {contracts}")
    artifacts = _compile_all(sources, contracts, jobs or os.cpu_count() or 1, on_contract)
    out.mkdir(parents=True, exist_ok=True)
    previous = read_manifest(out)
    entries: dict[str, ManifestEntry] = {}
    for name, artifact in artifacts.items():
        content = _dumps(artifact.model_dump())
        _write_if_changed(out / f"{name}.json", content)
        entries[name] = ManifestEntry(
            artifact=f"{name}.json",
            artifact_sha256=sha256(content).hexdigest(),
            source_path=artifact.source_path,
            sources=artifact.sources,
            runtime_size=artifact.runtime_size,
            over_eip170_limit=artifact.over_eip170_limit,
        )
    if previous is not None:
        for name, entry in previous.contracts.items():
            if name not in entries:
                (out / entry.artifact).unlink(missing_ok=True)
    first = next(iter(artifacts.values()))
    manifest = Manifest(
        format=MANIFEST_FORMAT,
        compiler=first.compiler,
        compiler_version=first.compiler_version,
        contracts_dir=_rel(contracts, contracts.parent),
        contracts=entries,
    )
    _write_if_changed(out / MANIFEST_NAME, _dumps(manifest.model_dump()))
    return manifest


def read_manifest(out_dir: Path) -> Manifest | None:
    try:
        return Manifest.model_validate_json((out_dir / MANIFEST_NAME).read_bytes())
    except (OSError, ValidationError):
        return None


def stale_reason(contracts_dir: Path | None = None, out_dir: Path | None = None) -> str | None:
    """Why the build in `out_dir` is out of date (None when it is current). Compiles nothing."""
    contracts, out = _resolve_dirs(contracts_dir, out_dir)
    manifest = read_manifest(out)
    if manifest is None:
        return NO_BUILD
    installed = _installed_vyper()
    # without a compiler nothing could rebuild them: the artifacts' own bytecode stands
    if installed is not None and manifest.compiler_version != installed:
        return f"built with vyper {manifest.compiler_version}, installed is {installed}"
    current = {name: _rel(p, contracts.parent) for name, p in deployable_sources(contracts).items()}
    if current != {name: e.source_path for name, e in manifest.contracts.items()}:
        return "the set of deployable contracts changed"
    for name, entry in manifest.contracts.items():
        artifact = out / entry.artifact
        if not artifact.exists() or _file_sha256(artifact) != entry.artifact_sha256:
            return f"artifact {entry.artifact} is missing or was modified"
        for rel, digest in entry.sources.items():
            path = contracts.parent / rel
            if not path.exists() or _file_sha256(path) != digest:
                return f"{rel} changed (used by {name})"
    return None


def _installed_vyper() -> str | None:
    from importlib.metadata import PackageNotFoundError

    try:
        return package_version("vyper")
    except PackageNotFoundError:
        return None


def build_if_stale(contracts_dir: Path | None = None, out_dir: Path | None = None) -> Manifest:
    """The current build's manifest, compiling first if `stale_reason` finds it out of date."""
    contracts, out = _resolve_dirs(contracts_dir, out_dir)
    manifest = read_manifest(out)
    if manifest is None or stale_reason(contracts, out) is not None:
        manifest = build(contracts, out)
    return manifest


def load_artifact(name: str, *, contracts_dir: Path | None = None, out_dir: Path | None = None) -> Artifact:
    """The build artifact of contract `name`, checked against the sources' sha256; never compiles.

    Raises a one-line `HubError` naming the fix when the build is missing or stale.
    """
    contracts, out = _resolve_dirs(contracts_dir, out_dir)
    reason = stale_reason(contracts, out)
    if reason == NO_BUILD:
        raise HubError(f"no compiled contracts in {out}", hint=REBUILD_HINT)
    if reason is not None:
        raise HubError(
            f"the compiled contracts in {out} do not match the sources in {contracts}: {reason}",
            hint=REBUILD_HINT,
        )
    manifest = read_manifest(out)
    assert manifest is not None  # stale_reason found it
    if name not in manifest.contracts:
        raise HubError(
            f"no contract named {name!r} in {contracts}",
            hint=f"built contracts: {', '.join(manifest.contracts) or 'none'}",
        )
    return Artifact.model_validate_json((out / manifest.contracts[name].artifact).read_bytes())
