"""`hub build`: reproducible artifacts, staleness, errors, and a build of the real contracts_vy/."""

from __future__ import annotations

import json
import shutil
from hashlib import sha256
from pathlib import Path

import pytest
import vyper
from typer.testing import CliRunner

from hub import paths
from hub.build import EIP170_LIMIT, build, build_if_stale, deployable_sources, load_artifact, stale_reason
from hub.cli.main import app
from hub.errors import HubError

runner = CliRunner()

TINY_TREE = {
    "modules/counter.vy": """# pragma version 0.4.3
count: public(uint256)

@internal
def _bump(by: uint256):
    self.count += by
""",
    "interfaces/ICounter.vyi": """@external
def bump(by: uint256):
    ...
""",
    "Counter.vy": """# pragma version 0.4.3
from modules import counter
from interfaces import ICounter
initializes: counter
exports: counter.count
implements: ICounter

@deploy
def __init__():
    pass

@external
def bump(by: uint256):
    counter._bump(by)
""",
    "validators/AlwaysValid.vy": """# pragma version 0.4.3
from interfaces import ICounter

@external
@view
def validate(target: ICounter) -> bool:
    return True
""",
}


def _write_tree(root: Path, files: dict[str, str]) -> Path:
    contracts = root / "contracts_vy"
    for rel, text in files.items():
        (contracts / rel).parent.mkdir(parents=True, exist_ok=True)
        (contracts / rel).write_text(text)
    return contracts


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return _write_tree(tmp_path / "project", TINY_TREE)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_only_deployable_contracts_are_built(tiny: Path) -> None:
    manifest = build(tiny, jobs=1)
    assert list(manifest.contracts) == ["AlwaysValid", "Counter"]
    out = tiny.parent / "build"
    assert sorted(p.name for p in out.iterdir()) == ["AlwaysValid.json", "Counter.json", "manifest.json"]


def test_artifact_contents(tiny: Path) -> None:
    build(tiny, jobs=1)
    artifact = json.loads((tiny.parent / "build" / "Counter.json").read_text())
    assert {f.get("name", f["type"]) for f in artifact["abi"]} == {"bump", "count", "constructor"}
    runtime = bytes.fromhex(artifact["bytecode_runtime"][2:])
    assert artifact["runtime_size"] == len(runtime) > 0
    assert artifact["initcode_size"] == len(bytes.fromhex(artifact["bytecode"][2:])) > len(runtime)
    assert artifact["over_eip170_limit"] is False and artifact["runtime_size_limit"] == EIP170_LIMIT
    assert artifact["sources"] == {
        f"contracts_vy/{rel}": sha256((tiny / rel).read_bytes()).hexdigest()
        for rel in ("Counter.vy", "interfaces/ICounter.vyi", "modules/counter.vy")
    }
    assert artifact["compiler_version"] == vyper.__version__
    assert artifact["compiler"] == f"vyper-{vyper.__long_version__}"
    assert len(artifact["integrity"]) == 64
    assert artifact["source_path"] == "contracts_vy/Counter.vy"


def test_tiny_build_is_byte_identical_across_runs_and_locations(tiny: Path, tmp_path: Path) -> None:
    build(tiny, tmp_path / "a", jobs=1)
    build(tiny, tmp_path / "b", jobs=2)
    elsewhere = _write_tree(tmp_path / "somewhere" / "else", TINY_TREE)
    build(elsewhere, tmp_path / "c", jobs=1)
    assert _snapshot(tmp_path / "a") == _snapshot(tmp_path / "b") == _snapshot(tmp_path / "c")
    text = (tmp_path / "a" / "manifest.json").read_text()
    assert str(tmp_path) not in text and "timestamp" not in text


def test_oversize_runtime_is_flagged(tmp_path: Path) -> None:
    blob = "ab" * 25_000
    big = _write_tree(
        tmp_path,
        {"Big.vy": f'# pragma version 0.4.3\n@external\n@pure\ndef blob() -> Bytes[25000]:\n    return x"{blob}"\n'},
    )
    with pytest.warns(Warning, match="EIP-170"):
        manifest = build(big, jobs=1)
    entry = manifest.contracts["Big"]
    assert entry.over_eip170_limit and entry.runtime_size > EIP170_LIMIT


def _refusal(tiny: Path) -> str:
    with pytest.raises(HubError) as refused:
        load_artifact("Counter", contracts_dir=tiny)
    return str(refused.value)


def test_load_artifact_checks_hashes_and_never_compiles(tiny: Path) -> None:
    """What `hub deploy` reads: the artifact when every recorded sha256 matches, else one line
    naming what changed and the command that fixes it; only `build_if_stale` compiles."""
    out = tiny.parent / "build"
    hint = "(hint: run `hub build` (it needs the build extra: pip install 'injective-ai-hub[build]'))"
    assert stale_reason(tiny) == "no build yet"
    assert _refusal(tiny) == f"no compiled contracts in {out} {hint}"
    assert not out.exists()
    first = build_if_stale(tiny).contracts["Counter"]
    assert stale_reason(tiny) is None
    mtime = (out / "Counter.json").stat().st_mtime_ns
    assert build_if_stale(tiny).contracts["Counter"] == first
    assert load_artifact("Counter", contracts_dir=tiny).sources == first.sources
    assert (out / "Counter.json").stat().st_mtime_ns == mtime  # not rebuilt

    module = tiny / "modules" / "counter.vy"
    module.write_text(module.read_text().replace("self.count += by", "self.count += by + 1"))
    assert stale_reason(tiny) == "contracts_vy/modules/counter.vy changed (used by Counter)"
    assert _refusal(tiny) == (
        f"the compiled contracts in {out} do not match the sources in {tiny}: "
        f"contracts_vy/modules/counter.vy changed (used by Counter) {hint}"
    )
    second = build_if_stale(tiny).contracts["Counter"]
    assert second.sources["contracts_vy/modules/counter.vy"] != first.sources["contracts_vy/modules/counter.vy"]
    assert stale_reason(tiny) is None

    (out / "Counter.json").write_text((out / "Counter.json").read_text().replace("bump", "pump"))
    assert stale_reason(tiny) == "artifact Counter.json is missing or was modified"
    assert "artifact Counter.json is missing or was modified" in _refusal(tiny)


def test_a_new_folder_of_contracts_is_found_by_listing(tiny: Path) -> None:
    """Deployable: every .vy outside modules/ and interfaces/ folders, at any depth."""
    (tiny / "governance" / "modules").mkdir(parents=True)
    shutil.copy(tiny / "Counter.vy", tiny / "governance" / "Council.vy")
    shutil.copy(tiny / "modules" / "counter.vy", tiny / "governance" / "modules" / "tally.vy")
    assert {name: p.relative_to(tiny).as_posix() for name, p in deployable_sources(tiny).items()} == {
        "AlwaysValid": "validators/AlwaysValid.vy",
        "Council": "governance/Council.vy",
        "Counter": "Counter.vy",
    }


def test_added_and_removed_contracts(tiny: Path) -> None:
    out = tiny.parent / "build"
    build(tiny, jobs=1)
    shutil.copy(tiny / "Counter.vy", tiny / "Counter2.vy")
    assert stale_reason(tiny) == "the set of deployable contracts changed"
    build_if_stale(tiny)
    assert load_artifact("Counter2", contracts_dir=tiny).contract_name == "Counter2"
    (tiny / "Counter2.vy").unlink()
    (tiny / "validators" / "AlwaysValid.vy").unlink()
    assert stale_reason(tiny) == "the set of deployable contracts changed"
    build(tiny, jobs=1)
    assert sorted(p.name for p in out.iterdir()) == ["Counter.json", "manifest.json"]
    with pytest.raises(HubError, match="no contract named 'AlwaysValid'"):
        load_artifact("AlwaysValid", contracts_dir=tiny)


def test_compile_error_names_file_and_line(tmp_path: Path) -> None:
    bad = _write_tree(tmp_path, {"Bad.vy": "# pragma version 0.4.3\n@external\ndef f() -> uint256:\n    return x\n"})
    with pytest.raises(HubError, match=r"^contracts_vy/Bad\.vy:4: UndeclaredDefinition: 'x' has not been declared"):
        build(bad, jobs=1)
    result = runner.invoke(app, ["build", "--contracts", str(bad)])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("error: contracts_vy/Bad.vy:4:")


def test_duplicate_contract_names_are_refused(tiny: Path) -> None:
    shutil.copy(tiny / "Counter.vy", tiny / "validators" / "Counter.vy")
    with pytest.raises(HubError, match="two deployable contracts named Counter"):
        build(tiny, jobs=1)


def test_cli_build_json(tiny: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["build", "--contracts", str(tiny), "--out", str(tmp_path / "o"), "--json"])
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.output)["contracts"]) == {"AlwaysValid", "Counter"}


# -- the real tree


def test_real_contracts_build_reproducibly(tmp_path: Path) -> None:
    """Every deployable contract of contracts_vy/ compiles, twice, to identical bytes."""
    contracts = paths.contracts_dir()
    manifest = build(contracts, tmp_path / "one")
    build(contracts, tmp_path / "two")
    assert _snapshot(tmp_path / "one") == _snapshot(tmp_path / "two")
    assert list(manifest.contracts) == list(deployable_sources(contracts))
    for name, entry in manifest.contracts.items():
        artifact = json.loads((tmp_path / "one" / entry.artifact).read_text())
        assert artifact["contract_name"] == name and artifact["abi"]
        assert entry.over_eip170_limit == (entry.runtime_size > EIP170_LIMIT)
        assert all(not rel.startswith(("/", "..")) for rel in entry.sources)
