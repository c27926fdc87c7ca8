"""Reading a policy file: YAML that refuses a key given twice, validation, and every problem
reported with its YAML path and line.

A policy is named by its path, or by the name of a policy shipped inside the package
(:func:`shipped_policies`: ``default`` for China, ``strict``, ``us`` for the United States):
``--policy us`` reads ``socialcredit/policy/us.yaml`` unless a file ``us`` exists.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from socialcredit.errors import ConfigError
from socialcredit.policy.model.policy import Policy
from socialcredit.settings import DEFAULT_POLICY_PATH, shipped_policy_path

__all__ = ["line_of", "load_policy", "resolve_policy_path", "shipped_policies", "yaml_lines"]

#: The folder of the policies shipped with the package.
SHIPPED_DIR = DEFAULT_POLICY_PATH.parent


def shipped_policies() -> list[str]:
    """Names of the policies shipped with the package (``default``, ``strict``, ``us``)."""
    return sorted(p.stem for p in SHIPPED_DIR.glob("*.yaml"))


def resolve_policy_path(path: Path | str) -> Path:
    """``path``, or the shipped policy it names (:func:`socialcredit.settings.
    shipped_policy_path`: ``us`` → ``socialcredit/policy/us.yaml`` unless a file ``us``
    exists)."""
    return shipped_policy_path(path)


def yaml_lines(text: bytes) -> dict[str, int]:
    """YAML path (``lists.x.trigger.kind``) → 1-based line of that node in the file."""
    out: dict[str, int] = {}

    def walk(node: yaml.Node, path: str) -> None:
        out.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                sub = f"{path}.{k.value}" if path else str(k.value)
                out[sub] = k.start_mark.line + 1
                walk(v, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, f"{path}.{i}" if path else str(i))

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return out
    if root is not None:
        walk(root, "")
    return out


def line_of(lines: dict[str, int], path: str) -> int | None:
    """Line of ``path`` or of its nearest ancestor present in the file."""
    parts = path.split(".")
    while parts:
        if (n := lines.get(".".join(parts))) is not None:
            return n
        parts.pop()
    return None


class _UniqueKeys(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping (PyYAML keeps the last
    silently: ``period_years: 2`` then ``period_years: 5`` would be 5)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False,
                          ) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice (lines {seen[key]} and {line}); "
                    "the second would silently replace the first", key_node.start_mark)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _at_line(line: int | None) -> str:
    return f" (line {line})" if line else ""


def load_policy(path: Path | str) -> Policy:
    """Read and validate a policy YAML file (a path, or a shipped policy's name:
    :func:`resolve_policy_path`).

    Raises:
        ConfigError: the file is missing or not YAML, or fails validation; ``details["problems"]``
            lists ``{"path": "lists.x.period_days", "line": 12, "reason": …}`` for every
            problem (the line of the YAML node, or of its nearest ancestor).
    """
    path = resolve_policy_path(path)
    try:
        raw_bytes = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read policy file {path}: {e.strerror} (a path, or one of "
                          f"the shipped policies: {', '.join(shipped_policies())})") from e
    try:
        data = yaml.load(raw_bytes, Loader=_UniqueKeys)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as e:
        raise ConfigError(f"policy file {path} is not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"policy file {path} must hold a mapping at the top level")
    data["version_hash"] = "sha256:" + hashlib.sha256(raw_bytes).hexdigest()
    try:
        return Policy.model_validate(data)
    except ValidationError as e:
        lines = yaml_lines(raw_bytes)
        problems: list[dict[str, Any]] = []
        for err in e.errors():
            where = ".".join(str(p) for p in err["loc"])
            if where or not err["msg"].startswith("Value error, "):
                problems.append({"path": where or "(top)", "reason": err["msg"]})
                continue
            # the cross-reference check reports "path: reason; path: reason"
            for part in err["msg"].removeprefix("Value error, ").split("; "):
                sub, _, why = part.partition(": ")
                problems.append({"path": sub, "reason": why})
        for prob in problems:
            prob["line"] = line_of(lines, prob["path"])
        summary = "; ".join(f"{p['path']}{_at_line(p['line'])}: {p['reason']}"
                            for p in problems)
        raise ConfigError(
            f"policy file {path} is invalid: {summary}", details={"problems": problems}
        ) from e
