"""Command-line options from dataclass fields, as transformers' ``HfArgumentParser`` made them,
but in plain argparse: reading the command line (``--help``, a bad choice) must not wait for
transformers and torch to import.

Each field becomes ``--dashed-name`` (the ``--underscored_name`` is accepted too), typed by its
annotation: ``Literal`` fields take one of their values, ``list[X]`` fields one or more values, a
``bool`` field is a switch, and one that defaults to true gets a ``--no-name`` switch as well. The
field's metadata gives ``help``, and optionally ``choices``, ``metavar``, ``required`` and
``negated_help`` (the ``--no-name`` switch's help).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
from collections.abc import Mapping
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints


class HelpFormatter(argparse.HelpFormatter):
    """Names each option once (``--base-model``, not also ``--base_model``), marks the required
    ones and shows the defaults that say something (not None, an empty text or a switch that is
    off)."""

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if not action.option_strings:
            return super()._format_action_invocation(action)
        names = ", ".join(
            name
            for name in action.option_strings
            if "_" not in name or name.replace("_", "-") not in action.option_strings
        )
        if action.nargs == 0:
            return names
        return (
            f"{names} {self._format_args(action, self._get_default_metavar_for_optional(action))}"
        )

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if not action.option_strings:
            return text
        if action.required:
            return f"{text} (required)"
        default = action.default
        if action.nargs == 0:  # a switch: say so only where it is on by default
            return f"{text} (default)" if action.const is True and default is True else text
        if default is None or default == "" or default is argparse.SUPPRESS:
            return text
        if "%(default)" in text:
            return text
        shown = " ".join(map(str, default)) if isinstance(default, list) else str(default)
        return f"{text} (default: {shown.replace('%', '%%')})"


def add_dataclass_options(
    parser: argparse.ArgumentParser,
    dataclass_type: type,
    defaults: Mapping[str, Any] | None = None,
) -> None:
    """Add an option for each field of ``dataclass_type``. ``defaults`` (by field name, e.g. from
    a config file) replace the fields' defaults, and a required field given there is no longer
    required on the command line; ValueError if one is not among its field's choices, or not
    true or false for a switch."""
    hints = get_type_hints(dataclass_type)
    for field in dataclasses.fields(dataclass_type):
        if field.init:
            _add_field(parser, field, hints[field.name], defaults or {})


def dataclass_values(namespace: argparse.Namespace, dataclass_type: type) -> dict[str, Any]:
    """The parsed values of ``dataclass_type``'s fields, ready for its constructor."""
    parsed = vars(namespace)
    return {f.name: parsed[f.name] for f in dataclasses.fields(dataclass_type) if f.init}


def _add_field(
    parser: argparse.ArgumentParser,
    field: dataclasses.Field[Any],
    hint: Any,
    defaults: Mapping[str, Any],
) -> None:
    dashed = field.name.replace("_", "-")
    names = [f"--{dashed}", *([f"--{field.name}"] if dashed != field.name else [])]
    metadata = field.metadata
    if field.name in defaults:
        default: Any = defaults[field.name]
    elif field.default_factory is not dataclasses.MISSING:
        default = field.default_factory()
    else:
        default = None if field.default is dataclasses.MISSING else field.default
    hint = _without_none(hint)
    if field.name in defaults and hint is bool and not isinstance(default, bool):
        default = _truth(field.name, default)  # a config file's "yes", "false"...
    kwargs: dict[str, Any] = {"dest": field.name, "help": metadata.get("help")}
    if "metavar" in metadata:
        kwargs["metavar"] = metadata["metavar"]
    if metadata.get("required") and field.name not in defaults:
        kwargs["required"] = True
    else:
        kwargs["default"] = default
    if hint is bool:
        parser.add_argument(*names, action="store_true", **kwargs)
        if field.default is True:
            parser.add_argument(
                f"--no-{dashed}",
                f"--no_{field.name}",
                action="store_false",
                dest=field.name,
                help=metadata.get("negated_help", f"Turn --{dashed} off."),
            )
        return
    if get_origin(hint) is Literal:
        choices = list(get_args(hint))
        kwargs.update(choices=choices, type=type(choices[0]))
    elif get_origin(hint) is list:
        kwargs.update(nargs="+", type=get_args(hint)[0])
    elif hint in (str, int, float):
        kwargs["type"] = hint
    else:
        raise TypeError(f"{field.name}: no command-line form for a field of type {hint}")
    if "choices" in metadata:
        kwargs["choices"] = list(metadata["choices"])
    if field.name in defaults and "choices" in kwargs and default not in kwargs["choices"]:
        raise ValueError(f"{field.name} must be one of {kwargs['choices']}, got {default!r}")
    parser.add_argument(*names, **kwargs)


def _without_none(hint: Any) -> Any:
    """``X`` for ``X | None``: an option left out keeps its default."""
    if get_origin(hint) in (Union, types.UnionType):
        kept = [arg for arg in get_args(hint) if arg is not type(None)]
        if len(kept) != 1:
            raise TypeError(f"no command-line form for a union of several types: {hint}")
        return kept[0]
    return hint


def _truth(name: str, value: Any) -> bool:
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")
