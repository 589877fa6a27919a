"""The config file as the command line reads it: where each key is (``file:line``), which
``${VAR}`` references the environment leaves unset, and a Config built despite them.

The function itself never imports this: it reads its file once with :func:`airhook.config.load`,
which stops at the first problem. Here the file is read a second way (``yaml.compose`` keeps each
node's line) so that every message can point at a line, and a missing variable is reported and
replaced by a stand-in so that the rest of the file can still be checked or explained.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .. import config
from ..errors import ConfigError, KeyPath
from .output import CliError

#: Keys whose values are lists of secrets: a missing one stands in as a valid ``whsec_`` secret,
#: which every sender type accepts (Standard Webhooks' insists on base64).
_SECRET_KEYS = frozenset({"secrets", "tokens", "signing_tokens"})
UNSET_URL = "https://unset.invalid"


@dataclass(frozen=True)
class Missing:
    """A ``${NAME}`` without a value (and without a ``:-`` default), where it is used."""

    name: str
    path: KeyPath
    line: int


@dataclass(frozen=True)
class ConfigFile:
    """The file's text, its YAML document (``${...}`` left as written) and its node tree."""

    path: Path
    document: Any
    root: yaml.Node | None
    found: tuple[str, ...] = ()

    def line_of(self, where: KeyPath) -> int:
        """The line (1-based) of the deepest node on ``where``: the key's line for a mapping
        entry, the item's for a list entry; line 1 when nothing matches."""
        node, line = self.root, 1
        for part in where:
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
                if match is None:
                    break
                line, node = match[0].start_mark.line + 1, match[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                break
        return line

    def format(self, error: ConfigError) -> str:
        """``file:line: message``, the line the error's location (its data) points at."""
        return f"{self.path}:{self.line_of(error.where)}: {error.detail}"


def read(path: str | Path) -> ConfigFile:
    """Read and parse the file, keeping line numbers.

    Raises:
        CliError: the file cannot be read, or is not YAML (``file:line: ...``).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read config file {path}: {exc.strerror}") from None
    # As the function does: ${...} is hidden before YAML sees it (braces are flow syntax), which
    # keeps every line where it was.
    masked, found = config.mask_variables(text)
    try:
        root = yaml.compose(masked, Loader=yaml.SafeLoader)
        document = config.unmask_variables(yaml.safe_load(masked), found)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or str(exc).splitlines()[0]
        raise CliError(f"{path}:{line}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise CliError(f"{path}: invalid YAML: {exc}") from None
    return ConfigFile(path=path, document=document, root=root, found=tuple(found))


# ------------------------------------------------------------------------------ substitution


@dataclass
class Resolved:
    """The document with every variable substituted as the function would, missing ones
    replaced by stand-ins; written so that :func:`airhook.config.parse` substitutes it again to
    exactly these values (every ``${`` is escaped as ``$${``)."""

    document: Any
    missing: list[Missing] = field(default_factory=list)

    def missing_under(self, where: KeyPath) -> list[Missing]:
        return [m for m in self.missing if m.path[:len(where)] == where]

    def touches_missing(self, where: KeyPath) -> bool:
        """Whether ``where`` is on the way to, or below, a missing variable: an error there is a
        consequence of the stand-in, already reported as the missing variable."""
        return any(m.path[:len(where)] == where or where[:len(m.path)] == m.path for m in self.missing)


def _stand_in(name: str, where: KeyPath) -> str:
    keys = [p for p in where if isinstance(p, str)]
    last = keys[-1] if keys else ""
    if last in _SECRET_KEYS:
        return "whsec_" + base64.b64encode(f"airhook-unset-{name}".encode()).decode()
    if last.endswith("url") or last.endswith("endpoint"):
        return UNSET_URL
    return "${" + name + "}"


def resolve(file: ConfigFile, environ: Mapping[str, str]) -> Resolved:
    """Substitute ``${NAME}`` everywhere, recording each missing variable with its line."""
    resolved = Resolved(document=None)

    def substitute(text: str, where: KeyPath) -> str:
        def unset(name: str) -> str:
            resolved.missing.append(Missing(name, where, file.line_of(where)))
            return _stand_in(name, where)
        return config.expand(text, environ, unset).replace("${", "$${")

    def walk(node: Any, where: KeyPath) -> Any:
        if isinstance(node, str):
            return substitute(node, where)
        if isinstance(node, list):
            return [walk(item, where + (index,)) for index, item in enumerate(node)]
        if isinstance(node, dict):
            return {key: walk(value, where + (key,)) for key, value in node.items()}
        return node

    resolved.document = walk(file.document, ())
    return resolved


def load(path: str | Path, environ: Mapping[str, str]) -> tuple[config.Config, ConfigFile, Resolved]:
    """The Config the function would build, with stand-ins for missing variables (which the
    caller reports or ignores), so that routes can be explained without the secrets.

    Raises:
        CliError: the file is unreadable or invalid (``file:line: message``).
    """
    file = read(path)
    resolved = resolve(file, environ)
    try:
        loaded = config.parse(resolved.document, {}, str(file.path))
    except ConfigError as exc:
        raise CliError(file.format(exc)) from None
    return loaded, file, resolved


def missing_message(missing: Sequence[Missing]) -> str:
    names = ", ".join(sorted({m.name for m in missing}))
    return f"environment variable(s) not set: {names}"
