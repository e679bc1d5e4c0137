"""Entry point of the `trainer` command: argument parsing and printing only.

The logic lives in the modules it calls (`train_loop`, `aux_peer`, `generate`, ...). Heavy
imports (torch, transformers, hivemind) happen inside the commands, so ``trainer --help`` is
fast. Mistakes print one line, ``error: ... (hint: ...)``; ``--debug`` shows tracebacks instead.

Exit status, the policy `hub` and `trainer` share (`hub.errors`): 0 done, 1 the command failed (bad data, a model or
profile that does not fit, a chain refusal, a bug), 2 the command line is wrong (an unknown
option, an option value out of range or not among the choices). Help is click's plain format,
wrapped at 80 columns: option names are never cut (rich's panels cut them in narrow terminals),
and every default is shown.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from typer._click import Context  # typer 0.29 (pinned) runs on its own copy of click
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from hub.cli.exits import exit_for, exit_for_usage
from hub.errors import UsageError as HubUsageError


def _show_config_defaults(command: Any) -> None:
    """Show TrainConfig's default beside every option that sets a TrainConfig field: the options
    themselves default to None (unset: the config file or TrainConfig decides)."""
    from trainer.options import FIELD_OF_OPTION
    from trainer.training.config import TrainConfig

    fields = TrainConfig.model_fields
    for param in command.params:
        field = fields.get(FIELD_OF_OPTION.get(param.name, param.name))
        if field is None or param.default is not None:
            continue
        default = field.get_default(call_default_factory=True)
        if default is None or default == []:
            continue  # "unset" is explained by the option's own help
        if isinstance(default, bool) and param.secondary_opts:
            param.show_default = param.opts[0] if default else param.secondary_opts[0]
        else:
            param.show_default = " ".join(map(str, default)) if isinstance(default, list) else str(default)


class _TrainerGroup(TyperGroup):
    """Turns any error of a command into one line and the exit status of `hub.errors.exit_code`
    (`hub.cli.exits`, which `hub` shares): 1 a failure, 2 a usage error (an unknown option, a value
    out of range, a setting TrainConfig refuses), 130 Ctrl+C; --debug shows the traceback instead.
    Shows TrainConfig's defaults in the commands' help."""

    def get_command(self, ctx: Context, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None and cmd_name in ("train", "aux", "join"):
            _show_config_defaults(command)
        return command

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except NoArgsIsHelpError:
            raise
        except UsageError as exc:
            raise exit_for_usage(exc, "trainer") from None
        except (typer.Exit, typer.Abort, ClickException):
            raise
        except (Exception, KeyboardInterrupt) as exc:
            if _state["debug"]:
                raise
            raise exit_for(_as_user_error(exc), "trainer") from None


def _as_user_error(exc: BaseException) -> BaseException:
    """A setting that TrainConfig refuses is a usage error naming the setting; others pass as they are."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return exc
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "config"
    return HubUsageError(f"invalid setting {where}: {first.get('msg')}", "see `trainer train --help`")


app = typer.Typer(
    name="trainer",
    cls=_TrainerGroup,
    help="Train a pool's LLaMA model with hivemind peers and submit the work on chain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"max_content_width": 80, "show_default": True},
)

_state = {"debug": False}

PEERS_HELP = "Multiaddr of a peer already in the swarm (repeatable, or space/comma separated)."


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"trainer {version('injective-ai-hub')}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
    _version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Collaborative LLaMA training for injective-ai-hub pools."""
    _state["debug"] = debug


def main() -> None:
    from trainer.training.dht_watch import end_process_after_a_death, exit_when_stuck

    exit_when_stuck(60.0)  # a command whose hivemind DHT died exits within a minute, whatever blocks
    try:
        app()
    except SystemExit as done:
        # after a DHT death, nothing but the dead DHT's futures' finalizer noise is left to run
        end_process_after_a_death(done.code if isinstance(done.code, int) else 1)
        raise


# --- helpers -----------------------------------------------------------------------------------


def _positive(value: float | None) -> float | None:
    """Option callback: a size must be more than zero (a usage error otherwise)."""
    if value is not None and value <= 0:
        raise typer.BadParameter(f"{value:g} is not more than zero")
    return value


def _averaging_mode(value: str) -> str:
    if value not in ("gradient", "diloco"):
        raise typer.BadParameter(f"{value!r} is not one of 'gradient', 'diloco'")
    return value


def _stop_on_signals(stop: threading.Event) -> None:
    """First SIGINT/SIGTERM: finish the step, checkpoint, leave the swarm. A second one aborts.

    hivemind forks helper processes that inherit these handlers; there the default action applies,
    so their parent can still terminate them.
    """
    import os

    main_pid = os.getpid()

    def handler(signum: int, _frame: Any) -> None:
        if os.getpid() != main_pid:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if stop.is_set():
            raise KeyboardInterrupt
        typer.echo("stopping after the current step (Ctrl+C again to abort)", err=True)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _make_config(config_file: Path | None, private: bool, overrides: dict[str, Any]) -> Any:
    from trainer.training.config import TrainConfig, load_config_file

    data: dict[str, Any] = load_config_file(config_file) if config_file else {}
    data.update({key: value for key, value in overrides.items() if value is not None})
    config = TrainConfig(**data)
    return config.make_private() if private else config


# Options shared by `train` and `aux` (typer has no option groups, so they are listed per command).
ConfigFile = Annotated[
    Path | None, typer.Option("--config", help="JSON file of TrainConfig fields; flags override it.")
]
RunId = Annotated[str | None, typer.Option(help="Run id: peers with the same id train together.")]
Model = Annotated[str | None, typer.Option(help="Preset (tiny, llama-1b-shape, llama-7b-shape), local dir or HF id.")]
Tokenizer = Annotated[str | None, typer.Option(help="Tokenizer dir or HF id (default: the model's; presets: builtin).")]
Profile = Annotated[str | None, typer.Option(help="Memory profile: auto, full or lora.")]
Averaging = Annotated[
    str | None, typer.Option(help="gradient (average every epoch) or diloco (local steps + outer Nesterov).")
]
TargetBatch = Annotated[int | None, typer.Option(help="Samples the swarm accumulates per collaborative epoch.")]
Compression = Annotated[str | None, typer.Option(help="Averaging compression: none, fp16 or uint8.")]
InitialPeers = Annotated[list[str] | None, typer.Option(help=PEERS_HELP)]
HostMaddrs = Annotated[list[str] | None, typer.Option(help="Multiaddrs to listen on (default /ip4/0.0.0.0/tcp/0).")]
AnnounceMaddrs = Annotated[list[str] | None, typer.Option(help="Multiaddrs to announce to other peers.")]
ClientMode = Annotated[
    bool | None, typer.Option("--client-mode/--no-client-mode", help="Accept no incoming connections.")
]
Private = Annotated[
    bool, typer.Option("--private", help="Loopback only, announce nothing, client mode (the seed's privacy options).")
]
IdentityPath = Annotated[
    Path | None, typer.Option(help="libp2p identity file (default: <checkpoint-dir>/identity.key).")
]
CheckpointDir = Annotated[Path | None, typer.Option(help="Where checkpoints, identity and hivemind.log live.")]
CheckpointEvery = Annotated[int | None, typer.Option(help="Checkpoint every N collaborative epochs (0: at stop only).")]
MaxEpochs = Annotated[int | None, typer.Option(help="Stop when the collaborative epoch reaches N.")]
MatchmakingTime = Annotated[
    float | None, typer.Option(help="Seconds to gather an averaging group (default: derived, see doctor).")
]
AveragingTimeout = Annotated[
    float | None, typer.Option(help="Give up on an averaging round after this many seconds (default: derived).")
]
MetadataExpiration = Annotated[float | None, typer.Option(help="Seconds a silent peer still counts as present.")]
LoadStateTimeout = Annotated[float | None, typer.Option(help="Seconds per attempt to download state from peers.")]
MetricsFile = Annotated[Path | None, typer.Option(help="Append JSON lines (start/epoch/checkpoint/stop events) here.")]
MaddrsFile = Annotated[Path | None, typer.Option(help="Write this peer's multiaddrs here once it is up.")]
LogEvery = Annotated[float | None, typer.Option(help="Seconds between metric lines.")]
Threads = Annotated[int | None, typer.Option(help="CPU threads for torch.")]
Seed = Annotated[int | None, typer.Option(help="Seed of preset models' initial weights.")]


# Options of the commands that talk to the chain (`join`, `aux --pool-id`), as in `hub`.
PoolId = Annotated[int, typer.Option("--pool-id", help="The pool to work in (`hub pool list`).", min=1)]
Network = Annotated[
    str | None, typer.Option("--network", "-n", help="Network name or RPC URL (env HUB_NETWORK; else local).")
]
DeploymentsDir = Annotated[
    Path | None, typer.Option(help="Folder of deployment manifests (env HUB_DEPLOYMENTS_DIR; else ./deployments).")
]
PasswordFile = Annotated[
    Path | None,
    typer.Option(dir_okay=False, help="Keystore password file (else env HUB_PASSWORD, else a prompt)."),
]
Workdir = Annotated[
    Path | None, typer.Option(help="Checkpoints, identity, work receipts and metrics (default: runs/pool-<id>-...).")
]


def _chain_client(network: str | None, account: str, password_file: Path | None, deployments_dir: Path | None):
    from hub.accounts import PasswordSource
    from hub.client import HubClient

    return HubClient.connect(
        network, account, password=PasswordSource(file=password_file), deployments_dir=deployments_dir
    )


# --- train --------------------------------------------------------------------------------------


@app.command()
def train(
    ctx: typer.Context,
    config_file: ConfigFile = None,
    run_id: RunId = None,
    model: Model = None,
    tokenizer: Tokenizer = None,
    data: Annotated[str | None, typer.Option(help="HF dataset id (streamed) or local .txt/.jsonl file or dir.")] = None,
    data_split: Annotated[str | None, typer.Option(help="Dataset split.")] = None,
    text_field: Annotated[str | None, typer.Option(help="Text field of dataset rows / jsonl objects.")] = None,
    data_shards: Annotated[int | None, typer.Option(help="Number of data shards; each peer reads one.")] = None,
    seq_len: Annotated[int | None, typer.Option(help="Tokens per packed sequence.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Sequences per micro-batch on this peer.")] = None,
    target_batch_size: TargetBatch = None,
    averaging: Averaging = None,
    compression: Compression = None,
    average_state_every: Annotated[int | None, typer.Option(help="Average parameters every N epochs.")] = None,
    lr: Annotated[float | None, typer.Option(help="(Inner) AdamW learning rate.")] = None,
    warmup_steps: Annotated[int | None, typer.Option(help="LR warm-up steps.")] = None,
    total_steps: Annotated[int | None, typer.Option(help="LR schedule length.")] = None,
    outer_lr: Annotated[float | None, typer.Option(help="DiLoCo outer Nesterov learning rate.")] = None,
    profile: Profile = None,
    offload_optimizer: Annotated[
        bool | None,
        typer.Option("--offload-optimizer/--no-offload-optimizer", help="Full profile: optimizer state in host RAM."),
    ] = None,
    delay_updates: Annotated[
        bool | None,
        typer.Option(
            "--delay-updates/--no-delay-updates",
            help=(
                "Overlap averaging with compute, one update stale. Gradient mode (needs --offload-optimizer): "
                "average and step during the next epoch. DiLoCo: the outer step runs during the next round's "
                "inner steps and is merged when it lands."
            ),
        ),
    ] = None,
    lora_rank: Annotated[int | None, typer.Option(help="LoRA rank.")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu or cuda.")] = None,
    dtype: Annotated[str | None, typer.Option(help="auto, fp32, bf16 or fp16.")] = None,
    attention: Annotated[str | None, typer.Option(help="auto, flash_attention_2, sdpa_flash, sdpa or eager.")] = None,
    gpu_memory_gb: Annotated[
        float | None, typer.Option(help="Plan for this much GPU memory instead of the detected amount.")
    ] = None,
    host_memory_gb: Annotated[
        float | None, typer.Option(help="Plan for this much host RAM instead of the detected amount.")
    ] = None,
    initial_peers: InitialPeers = None,
    host_maddrs: HostMaddrs = None,
    announce_maddrs: AnnounceMaddrs = None,
    client_mode: ClientMode = None,
    private: Private = False,
    identity_path: IdentityPath = None,
    matchmaking_time: MatchmakingTime = None,
    averaging_timeout: AveragingTimeout = None,
    metadata_expiration: MetadataExpiration = None,
    load_state_timeout: LoadStateTimeout = None,
    checkpoint_dir: CheckpointDir = None,
    checkpoint_every: CheckpointEvery = None,
    resume: Annotated[
        bool | None, typer.Option("--resume/--no-resume", help="Resume from the latest checkpoint.")
    ] = None,
    max_epochs: MaxEpochs = None,
    metrics_file: MetricsFile = None,
    maddrs_file: MaddrsFile = None,
    log_every: LogEvery = None,
    num_threads: Threads = None,
    seed: Seed = None,
    progress_bar: Annotated[bool | None, typer.Option("--progress-bar/--no-progress-bar")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the final summary as JSON.")] = False,
) -> None:
    """Train with other peers: start a DHT and a hivemind Optimizer, train until stopped."""
    from trainer.options import TrainOptions

    options = TrainOptions.parse(ctx.params)

    def body() -> None:
        from dataclasses import asdict

        from trainer.training.plan import plan_run
        from trainer.training.reporting import setup_logging
        from trainer.training.session import TrainingSession
        from trainer.training.swarm import LocalOnlyWatch

        config = _make_config(options.config_file, options.private, options.config)
        plan = plan_run(config)  # bad input fails here, before any process or port is opened
        setup_logging()
        stop = threading.Event()
        _stop_on_signals(stop)
        session = TrainingSession(config, plan)
        try:
            session.start()
            summary = session.run(on_epoch=LocalOnlyWatch(stop).record, stop_event=stop)
        finally:
            session.close()
        result = asdict(summary) | {"utilization": summary.utilization}
        if options.as_json:
            typer.echo(json.dumps(result))
        else:
            _print_summary("training summary", result)

    body()


# --- join ---------------------------------------------------------------------------------------


@app.command()
def join(
    ctx: typer.Context,
    pool_id: PoolId,
    node_key: Annotated[str, typer.Option(help="Keystore name of this node's key (`hub account list`).")],
    network: Network = None,
    deployments_dir: DeploymentsDir = None,
    password_file: PasswordFile = None,
    workdir: Workdir = None,
    initial_peers: InitialPeers = None,
    host_maddrs: HostMaddrs = None,
    announce_maddrs: AnnounceMaddrs = None,
    private: Private = False,
    identity_path: IdentityPath = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu or cuda.")] = None,
    max_epochs: MaxEpochs = None,
    checkpoint_every: CheckpointEvery = None,
    num_threads: Threads = None,
    log_every: LogEvery = None,
    progress_bar: Annotated[bool | None, typer.Option("--progress-bar/--no-progress-bar")] = None,
    claim_multiplier: Annotated[
        float, typer.Option(hidden=True, help="Fault injection for audit tests: claim this times the real work.")
    ] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the final summary as JSON.")] = False,
) -> None:
    """Train in a pool as one of its nodes and submit the work on chain (read from the pool itself)."""
    from trainer.options import JoinOptions

    options = JoinOptions.parse(ctx.params)
    local = dict(options.config)
    if options.private:
        local.update(host_maddrs=["/ip4/127.0.0.1/tcp/0"], announce_maddrs=[], client_mode=True)

    def body() -> None:
        from dataclasses import asdict

        from trainer.pool.join import join_pool
        from trainer.training.reporting import setup_logging

        client = _chain_client(network, node_key, password_file, deployments_dir)
        folder = workdir or Path("runs") / f"pool-{pool_id}-{client.address[:10].lower()}"
        setup_logging()
        stop = threading.Event()
        _stop_on_signals(stop)
        summary = join_pool(
            client,
            pool_id,
            folder,
            stop_event=stop,
            claim_multiplier=claim_multiplier,
            **local,
        )
        result = asdict(summary)
        if as_json:
            typer.echo(json.dumps(result, default=str))
        else:
            training = result.pop("training") or {}
            _print_summary(
                "join summary", {**result, "epochs": training.get("epochs_completed"), "tokens": training.get("tokens")}
            )

    body()


# --- aux ----------------------------------------------------------------------------------------


@app.command()
def aux(
    ctx: typer.Context,
    config_file: ConfigFile = None,
    run_id: RunId = None,
    model: Model = None,
    tokenizer: Tokenizer = None,
    profile: Profile = None,
    averaging: Averaging = None,
    target_batch_size: TargetBatch = None,
    compression: Compression = None,
    initial_peers: InitialPeers = None,
    host_maddrs: HostMaddrs = None,
    announce_maddrs: AnnounceMaddrs = None,
    identity_path: IdentityPath = None,
    matchmaking_time: MatchmakingTime = None,
    averaging_timeout: AveragingTimeout = None,
    metadata_expiration: MetadataExpiration = None,
    load_state_timeout: LoadStateTimeout = None,
    checkpoint_dir: CheckpointDir = None,
    checkpoint_every: CheckpointEvery = None,
    max_epochs: MaxEpochs = None,
    metrics_file: MetricsFile = None,
    maddrs_file: MaddrsFile = None,
    log_every: LogEvery = None,
    num_threads: Threads = None,
    seed: Seed = None,
    assist: Annotated[bool | None, typer.Option("--assist/--no-assist", help="Take part in all-reduce rounds.")] = None,
    refresh: Annotated[float | None, typer.Option(help="Seconds between assist/bookkeeping ticks.")] = None,
    pool_id: Annotated[
        int | None, typer.Option("--pool-id", help="Serve this pool: its run, and audit its claims.", min=1)
    ] = None,
    validator_key: Annotated[
        str | None, typer.Option(help="With --pool-id: keystore name of a validator, to invalidate bad claims.")
    ] = None,
    network: Network = None,
    deployments_dir: DeploymentsDir = None,
    password_file: PasswordFile = None,
    workdir: Workdir = None,
) -> None:
    """Run an auxiliary peer: assist averaging, keep the latest checkpoint, report the swarm.

    With --pool-id and --validator-key it serves a pool's run (read from the chain) and audits
    every work claim in the pool against the claimant's signed progress records."""
    from trainer.options import AuxOptions

    overrides = AuxOptions.parse(ctx.params).config
    if pool_id is not None:
        if not validator_key:
            raise HubUsageError("--pool-id needs --validator-key", "the keystore name of a validator account")
        pool_args = {"pool_id": pool_id, "validator_key": validator_key, "network": network}
        pool_args |= {"deployments_dir": deployments_dir, "password_file": password_file, "workdir": workdir}
        _aux_pool(pool_args, overrides)
        return

    def body() -> None:
        from trainer.training.aux_peer import run_aux
        from trainer.training.reporting import setup_logging

        config = _make_config(config_file, False, overrides)
        setup_logging()
        stop = threading.Event()
        _stop_on_signals(stop)
        summary = run_aux(config, stop_event=stop)
        _print_summary(
            "aux summary",
            {
                "peer_id": summary.peer_id,
                "final_epoch": summary.final_epoch,
                "checkpoints": len(summary.checkpoints),
                "peers_seen": len(summary.peers_seen),
            },
        )

    body()


# @dev The settings of a pool's aux peer that its operator may set; the rest come from the pool.
_AUX_POOL_FIELDS = (
    "initial_peers",
    "host_maddrs",
    "announce_maddrs",
    "identity_path",
    "checkpoint_every",
    "log_every",
    "num_threads",
    "matchmaking_time",
    "averaging_timeout",
    "aux_assist",
    "aux_refresh",
)


def _aux_pool(pool_args: dict[str, Any], overrides: dict[str, Any]) -> None:
    local = {k: v for k, v in overrides.items() if k in _AUX_POOL_FIELDS}

    def body() -> None:
        from trainer.pool.aux_service import audit_pool
        from trainer.training.reporting import setup_logging

        pool_id = pool_args["pool_id"]
        client = _chain_client(
            pool_args["network"], pool_args["validator_key"], pool_args["password_file"], pool_args["deployments_dir"]
        )
        folder = pool_args["workdir"] or Path("runs") / f"pool-{pool_id}-aux"
        setup_logging()
        stop = threading.Event()
        _stop_on_signals(stop)
        summary = audit_pool(client, pool_id, folder, stop_event=stop, **local)
        _print_summary(
            "aux summary",
            {"peer_id": summary.peer_id, "final_epoch": summary.final_epoch, "checkpoints": len(summary.checkpoints)},
        )

    body()


# --- generate -----------------------------------------------------------------------------------


@app.command()
def generate(
    checkpoint: Annotated[Path, typer.Option(help="Checkpoint root or epoch directory.")],
    prompts: Annotated[Path, typer.Option(help="Text file, one prompt per line.")],
    output_dir: Annotated[Path, typer.Option(help="Where generations.jsonl and generations.txt go.")],
    max_length: Annotated[int, typer.Option(help="Prompt plus generated tokens.")] = 512,
    temperature: Annotated[float, typer.Option(help="Sampling temperature (0: greedy).")] = 0.7,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling threshold.")] = 0.9,
    num_samples: Annotated[int, typer.Option(help="Samples per prompt.")] = 1,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
) -> None:
    """Generate text from a checkpoint for every prompt in a file."""

    def body() -> None:
        from trainer.training.generate import read_prompts, run_generation
        from trainer.training.reporting import setup_logging

        read_prompts(prompts)  # fail on a bad prompts file before loading a model
        setup_logging()
        results = run_generation(
            checkpoint,
            prompts,
            output_dir,
            max_length=max_length,
            temperature=temperature,
            top_p=top_p,
            num_samples=num_samples,
            seed=seed,
            device=device,
        )
        from rich.console import Console
        from rich.table import Table

        table = Table("prompt", "sample", "continuation", title=f"{len(results)} generations in {output_dir}")
        for result in results:
            table.add_row(result.prompt[:40], str(result.sample + 1), result.text[:80].replace("\n", " "))
        Console().print(table)

    body()


# --- doctor -------------------------------------------------------------------------------------


@app.command()
def doctor(
    model: Annotated[str, typer.Option(help="Model to plan for.")] = "llama-7b-shape",
    gpu_memory_gb: Annotated[
        float | None,
        typer.Option(callback=_positive, help="Plan for a GPU with this much memory."),
    ] = None,
    capability: Annotated[str, typer.Option(help="Compute capability of that GPU, e.g. 8.0 or 7.5.")] = "8.0",
    host_memory_gb: Annotated[
        float | None,
        typer.Option(callback=_positive, help="Plan for this much host RAM."),
    ] = None,
    seq_len: Annotated[int, typer.Option(min=8, help="Tokens per sequence.")] = 2048,
    batch_size: Annotated[int, typer.Option(min=1, help="Sequences per micro-batch.")] = 1,
    averaging: Annotated[str, typer.Option(callback=_averaging_mode, help="gradient or diloco.")] = "gradient",
    delay_updates: Annotated[
        bool,
        typer.Option(
            "--delay-updates/--no-delay-updates",
            help="Plan for overlapped averaging (DiLoCo: one more fp32 host copy of the weights).",
        ),
    ] = False,
) -> None:
    """Show the hardware, the kernel and precision it calls for, and what each memory profile needs."""

    from rich.console import Console
    from rich.table import Table

    from trainer.training.config import TrainConfig
    from trainer.training.hardware import detect_hardware, planned_gpu
    from trainer.training.plan import profile_table
    from trainer.training.profiles import GiB

    config = TrainConfig(
        model=model,
        seq_len=seq_len,
        batch_size=batch_size,
        averaging=averaging,
        host_memory_gb=host_memory_gb,
        delay_updates=delay_updates,
    )
    if gpu_memory_gb is None:
        hardware = detect_hardware(config)
    else:
        hardware = planned_gpu(gpu_memory_gb, capability, detect_hardware(config.model_copy(update={"device": "cpu"})))
    plan = profile_table(config, hardware)
    console = Console()
    console.print(
        f"[bold]hardware[/]: {hardware.name}, device memory {hardware.device_memory_bytes / GiB:.1f} GiB, "
        f"host {hardware.host_memory_bytes / GiB:.1f} GiB"
    )
    console.print(f"[bold]kernels[/]: {plan.kernel.describe()}")
    spec = plan.spec
    console.print(f"[bold]model[/]: {spec.name} ({spec.source}), {spec.shape.n_params / 1e9:.2f}B parameters")
    table = Table("profile", "device GiB", "host GiB", "trainable", "fits", "margin GiB", "round s (timeout)")
    for option, timeouts in zip(plan.options, plan.timeouts, strict=True):
        estimate = option.estimate
        margin = option.host_margin if hardware.device == "cpu" else min(option.device_margin, option.host_margin)
        table.add_row(
            option.label,
            f"{estimate.device_bytes / GiB:.1f}",
            f"{estimate.host_bytes / GiB:.1f}",
            f"{estimate.trainable_params / 1e6:,.1f}M",
            "yes" if option.fits else "[red]no[/]",
            f"{margin / GiB:.1f}",
            f"{timeouts.transfer_s:,.0f} ({timeouts.averaging_timeout:,.0f})",
        )
    chosen = plan.chosen.profile + (" + offload" if plan.chosen.offload else "") if plan.chosen else "none"
    console.print(
        f"[bold]--profile auto[/] picks: {chosen}. Averaging rounds assume {config.averaging_bandwidth_mbps:g} "
        f"Mbit/s each way and {config.compression} compression (matchmaking and timeout derived from them; "
        "--matchmaking-time/--averaging-timeout override)"
    )
    console.print(table)
    overlap = "on" if delay_updates else "off"
    if averaging == "diloco":
        console.print(
            f"--delay-updates ({overlap}): the outer step overlaps the next round's inner steps, one round stale, "
            "for one more fp32 host copy of the trainable weights"
        )
    else:
        console.print(
            f"--delay-updates ({overlap}): with --offload-optimizer, averaging and the optimizer step run during "
            "the next epoch, one epoch stale"
        )


# --- small utilities ----------------------------------------------------------------------------


@app.command("make-corpus")
def make_corpus(
    output: Annotated[Path, typer.Argument(help="Text file to write (one document per line).")],
    lines: Annotated[int, typer.Option(help="Generated lines (after the shipped corpus).")] = 4000,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 0,
) -> None:
    """Write the shipped corpus plus generated sentences: training data that needs no download."""

    def body() -> None:
        from trainer.training.corpus import generate_corpus

        path = generate_corpus(output, lines, seed)
        typer.echo(f"wrote {path} ({path.stat().st_size:,} bytes)")

    body()


@app.command("build-tokenizer")
def build_tokenizer_command(
    corpus: Annotated[list[Path], typer.Option(help="Text file(s) to train on (repeatable).")],
    output_dir: Annotated[Path, typer.Option(help="Directory for the tokenizer files.")],
    vocab_size: Annotated[int, typer.Option(help="Vocabulary size.")] = 1024,
) -> None:
    """Train a byte-level BPE tokenizer on local text files."""

    def body() -> None:
        from trainer.training.tokenizer import build_tokenizer_from_files

        tokenizer = build_tokenizer_from_files(corpus, vocab_size, output_dir)
        typer.echo(f"wrote {output_dir} ({len(tokenizer)} tokens)")

    body()


@app.command()
def progress(
    run_id: Annotated[str, typer.Option(help="Run id to read.")],
    initial_peers: Annotated[list[str], typer.Option(help=PEERS_HELP)],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Read every peer's signed progress records for a run from the DHT."""

    def body() -> None:
        from trainer.options import split_addresses
        from trainer.training.progress import read_progress

        records = read_progress(split_addresses(initial_peers), run_id)
        if as_json:
            typer.echo(json.dumps({peer: r.record.dict() for peer, r in records.items()}))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table("peer", "epoch", "samples", "tokens", "last loss", title=f"run {run_id}: {len(records)} peers")
        for peer, signed in sorted(records.items()):
            last = signed.record.recent[-1].mean_loss if signed.record.recent else float("nan")
            table.add_row(
                peer, str(signed.record.epoch), f"{signed.record.samples:,}", f"{signed.record.tokens:,}", f"{last:.3f}"
            )
        Console().print(table)

    body()


def _print_summary(title: str, values: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("", "", title=title, show_header=False)
    for key, value in values.items():
        if isinstance(value, float):
            value = f"{value:.3f}"
        table.add_row(key.replace("_", " "), str(value))
    Console(file=sys.stderr).print(table)


if __name__ == "__main__":
    main()
