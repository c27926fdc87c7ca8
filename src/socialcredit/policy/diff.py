"""The structural difference of two policy files (``socialcredit policy diff``, the console's
policy page): :func:`yaml_diff` of the two parsed YAML documents."""

from __future__ import annotations

import difflib
import json
from typing import Any

__all__ = ["yaml_diff"]


def _scalar_list(v: Any) -> bool:
    return isinstance(v, list) and not any(isinstance(x, dict | list) for x in v)


def yaml_diff(a: Any, b: Any, path: str = "") -> list[dict[str, Any]]:
    """Structural difference of two parsed YAML documents: ``[{"path", "change": added |
    removed | changed, "old", "new"}]`` in document order. Mappings are compared key by key;
    lists of scalars as one value; other lists item by item, aligned by content (difflib), so
    that an inserted item reads as one ``added`` path (at its index in ``b``) rather than as a
    change of every item after it."""
    out: list[dict[str, Any]] = []

    def at(k: Any) -> str:
        return f"{path}.{k}" if path else str(k)

    if isinstance(a, dict) and isinstance(b, dict):
        for k in dict.fromkeys([*a, *b]):
            if k not in b:
                out.append({"path": at(k), "change": "removed", "old": a[k], "new": None})
            elif k not in a:
                out.append({"path": at(k), "change": "added", "old": None, "new": b[k]})
            else:
                out += yaml_diff(a[k], b[k], at(k))
    elif isinstance(a, list) and isinstance(b, list) and not (_scalar_list(a)
                                                             and _scalar_list(b)):
        canon = [json.dumps(x, sort_keys=True, default=str) for x in (*a, *b)]
        matcher = difflib.SequenceMatcher(a=canon[:len(a)], b=canon[len(a):], autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            if tag == "replace" and i2 - i1 == j2 - j1:
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                    out += yaml_diff(a[i], b[j], at(i))
                continue
            out += [{"path": at(i), "change": "removed", "old": a[i], "new": None}
                    for i in range(i1, i2)]
            out += [{"path": at(j), "change": "added", "old": None, "new": b[j]}
                    for j in range(j1, j2)]
    elif a != b or type(a) is not type(b):
        out.append({"path": path or "(top)", "change": "changed", "old": a, "new": b})
    return out
