"""The options of `trainer train`, `aux` and `join`, typed.

A command's parsed options (click's `ctx.params`) become one pydantic model per command: its own
options (files, the chain account, output) are the model's fields, and every other option must
name a `TrainConfig` field (`ConfigOverrides`, built from TrainConfig, forbids anything else). So
renaming an option without its field, or the reverse, fails on every run of the command, and
tests/trainer/test_cli.py checks it for every option without running one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, create_model

from trainer.training.config import TrainConfig

# @dev Options named otherwise than the TrainConfig field they set.
FIELD_OF_OPTION = {"assist": "aux_assist", "refresh": "aux_refresh"}
# @dev Options that take multiaddrs: one flag may hold several, space or comma separated.
ADDRESS_OPTIONS = frozenset({"initial_peers", "host_maddrs", "announce_maddrs"})


# @dev Any TrainConfig field, typed as TrainConfig types it, None meaning "not given": an option that
#      names no field is refused (extra="forbid"), a value of the wrong type too.
ConfigOverrides = create_model(
    "ConfigOverrides",
    __config__=ConfigDict(extra="forbid"),
    **{name: (field.annotation | None, None) for name, field in TrainConfig.model_fields.items()},
)


def split_addresses(values: list[str]) -> list[str]:
    return [part for value in values for part in value.replace(",", " ").split() if part]


class CommandOptions(BaseModel):
    """A command's own options (the subclass's fields) and the TrainConfig fields it sets (`config`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    COMMAND: ClassVar[str]

    # @dev The TrainConfig fields the command line set, by field name; unset options are left out.
    config: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def parse(cls, params: dict[str, Any]) -> Self:
        """Split click's parsed `params` into the command's own options and TrainConfig overrides."""
        own = {name: value for name, value in params.items() if name in cls.model_fields}
        settings = {
            FIELD_OF_OPTION.get(name, name): split_addresses(value) if name in ADDRESS_OPTIONS else value
            for name, value in params.items()
            if name not in cls.model_fields
            and value not in (None, (), [])  # click: () for a repeatable option not given
        }
        ConfigOverrides.model_validate(settings)  # an option that names no TrainConfig field fails here
        return cls(**own, config=settings)


class TrainOptions(CommandOptions):
    COMMAND = "train"

    config_file: Path | None = None
    private: bool = False
    as_json: bool = False


class AuxOptions(CommandOptions):
    COMMAND = "aux"

    config_file: Path | None = None
    pool_id: int | None = None
    validator_key: str | None = None
    network: str | None = None
    deployments_dir: Path | None = None
    password_file: Path | None = None
    workdir: Path | None = None


class JoinOptions(CommandOptions):
    COMMAND = "join"

    pool_id: int
    node_key: str
    network: str | None = None
    deployments_dir: Path | None = None
    password_file: Path | None = None
    workdir: Path | None = None
    private: bool = False
    claim_multiplier: float = 1.0
    as_json: bool = False


# @dev Each command's options model, by command name.
OPTIONS = {options.COMMAND: options for options in (TrainOptions, AuxOptions, JoinOptions)}
