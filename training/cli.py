"""``arxiv-reco train`` and ``arxiv-reco evaluate``.

Bad input (arguments, config files, data) ends with a one-line message and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.arguments import HelpFormatter, add_dataclass_options, dataclass_values
from training.config import ConfigError, TrainConfig, read_config_file
from training.inference.artifact import ArtifactError

if TYPE_CHECKING:
    from training.train import TrainResult

logger = logging.getLogger(__name__)

BAD_INPUT = 2


def expected_errors() -> tuple[type[Exception], ...]:
    """The errors of bad input (arguments, config files, data, an existing output). A function,
    evaluated only when an error arrives, so that reading the command line does not load pandas
    for DataError."""
    from training.inference.layout import DataError

    return (ConfigError, DataError, ArtifactError, FileExistsError)


def _setup_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )


def build_train_parser(
    prog: str = "arxiv-reco train",
    extra_options: Sequence[type] = (),
    defaults: Mapping[str, Any] | None = None,
) -> argparse.ArgumentParser:
    """The TrainConfig's options, plus those of ``extra_options`` (dataclasses of the caller's,
    such as the service's registration options); ``defaults`` are a config file's values."""
    parser = argparse.ArgumentParser(
        prog=prog,
        formatter_class=HelpFormatter,
        description=(
            "Train a paper recommender on labelled papers and write a model directory the "
            "service can serve. Options also read from --config FILE (JSON or YAML, keyed by "
            "the option names); options on the command line win."
        ),
    )
    for options in (TrainConfig, *extra_options):
        add_dataclass_options(parser, options, defaults)
    parser.add_argument("--config", metavar="FILE", help="JSON or YAML file of options.")
    return parser


def parse_train_args(
    argv: Sequence[str], prog: str = "arxiv-reco train", extra_options: Sequence[type] = ()
) -> tuple[Any, ...]:
    """``(TrainConfig, *extra options)`` for ``argv``; ConfigError for any bad value, SystemExit
    for --help or a malformed option. Imports nothing heavy: torch waits for the training."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(argv)
    defaults = read_config_file(known.config) if known.config else {}
    try:
        parser = build_train_parser(prog, extra_options, defaults)
    except ValueError as err:  # a config-file value outside its choices
        raise ConfigError(f"config file {known.config}: {err}") from err
    namespace = parser.parse_args(list(argv))
    try:
        return tuple(
            options(**dataclass_values(namespace, options))
            for options in (TrainConfig, *extra_options)
        )
    except TypeError as err:  # a config-file value of the wrong kind
        raise ConfigError(f"bad argument: {err}") from err


def print_result(result: TrainResult) -> None:
    from training.report import metrics_table

    meta = result.meta
    print(f"\nwrote {result.path} ({meta.method}, threshold {meta.threshold:.4f})")
    print(metrics_table(result.metrics))


def train_main(argv: Sequence[str] | None = None, prog: str = "python -m training") -> int:
    """Train from a CSV into a model directory; nothing is registered or stored."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _setup_logging()
    try:
        (config,) = parse_train_args(argv, prog)
        from training.train import train

        result = train(config)
    except SystemExit as exit_:  # argparse: --help, or a malformed option
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else BAD_INPUT
    except expected_errors() as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return BAD_INPUT
    print_result(result)
    return 0


def build_evaluate_parser(prog: str = "arxiv-reco evaluate") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        formatter_class=HelpFormatter,
        description="Score a labelled CSV with a trained model and report the training metrics "
        "at the model's threshold.",
    )
    parser.add_argument("model", help="A model directory written by `arxiv-reco train`.")
    parser.add_argument(
        "--data",
        required=True,
        metavar="CSV",
        help="Labelled CSV in the training layout (paper_id,...).",
    )
    parser.add_argument(
        "--device", default="auto", choices=["auto", "cuda", "mps", "cpu"], help="Scoring device."
    )
    parser.add_argument("--batch-size", type=int, default=16, help="Texts per scoring batch.")
    parser.add_argument("--json", metavar="FILE", help="Also write the metrics to this JSON file.")
    parser.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")
    return parser


def evaluate_main(argv: Sequence[str] | None = None, prog: str = "arxiv-reco evaluate") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _setup_logging()
    parser = build_evaluate_parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else BAD_INPUT
    if args.batch_size < 1:
        print(
            f"{prog}: error: --batch-size must be at least 1, got {args.batch_size}",
            file=sys.stderr,
        )
        return BAD_INPUT
    from training.evaluate import evaluate
    from training.report import metrics_table

    try:
        metrics = evaluate(
            args.model,
            args.data,
            device=args.device,
            batch_size=args.batch_size,
            progress=not args.no_progress,
        )
    except expected_errors() + (ValueError,) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return BAD_INPUT
    if args.json:
        Path(args.json).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    print(metrics_table({"test": metrics}).replace("| test |", f"| {Path(args.data).name} |"))
    return 0
