"""A trained linkage model and its file: Splink's JSON settings with the trained m/u probabilities.

The file is ``linkage-<version>.json``; ``version`` is a hash of the settings, so a file name
names its model and a saved model is never overwritten by another.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socialcredit.errors import ConfigError
from socialcredit.identity.model.settings import LinkType

__all__ = ["MODEL_FORMAT", "LinkageModel"]

MODEL_FORMAT = "socialcredit.linkage_model/1"


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


@dataclass(frozen=True)
class LinkageModel:
    """A trained model: ``settings`` is Splink's full JSON settings dict (m/u probabilities,
    ``probability_two_random_records_match``, DuckDB-dialect SQL); ``version`` the first 16 hex
    characters of the SHA-256 of its canonical JSON (sorted keys, no spaces); ``trained_at``
    ISO UTC; ``columns`` the frame columns it was trained on."""

    settings: dict[str, Any]
    version: str
    trained_at: str
    seed: int
    link_type: LinkType
    columns: tuple[str, ...] = field(default_factory=tuple)

    @staticmethod
    def version_of(settings: dict[str, Any]) -> str:
        return hashlib.sha256(_canonical(settings).encode()).hexdigest()[:16]

    def to_json(self) -> str:
        """The file text: ``{"format", "version", "trained_at", "seed", "link_type",
        "columns", "settings"}`` with sorted keys."""
        return json.dumps({
            "format": MODEL_FORMAT, "version": self.version, "trained_at": self.trained_at,
            "seed": self.seed, "link_type": self.link_type, "columns": list(self.columns),
            "settings": self.settings,
        }, sort_keys=True, indent=1, ensure_ascii=True) + "\n"

    def save(self, folder: str | Path) -> Path:
        """Write ``<folder>/linkage-<version>.json`` (the folder is created). An existing file
        of the same model is left as it is; a file of that name holding another model raises
        :class:`ConfigError` (models are never overwritten)."""
        target = Path(folder) / f"linkage-{self.version}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            try:
                other = LinkageModel.load(target)
            except ConfigError as e:
                raise ConfigError(f"{target} exists and is not a model; not overwritten",
                                  details={"path": str(target)}) from e
            if _canonical(other.settings) != _canonical(self.settings):
                raise ConfigError(f"{target} holds a different model; not overwritten",
                                  details={"path": str(target)})
            return target
        tmp = target.with_suffix(".json.tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(target)
        return target

    @property
    def comparison_names(self) -> tuple[str, ...]:
        """Output names of the comparisons (``w_<name>``/``level_<name>`` in predictions)."""
        return tuple(c["output_column_name"] for c in self.settings["comparisons"])

    @property
    def tf_columns(self) -> tuple[str, ...]:
        """Columns with term-frequency adjustments, in first-use order."""
        cols = [lv["tf_adjustment_column"] for c in self.settings["comparisons"]
                for lv in c["comparison_levels"] if lv.get("tf_adjustment_column")]
        return tuple(dict.fromkeys(cols))

    @classmethod
    def load(cls, path: str | Path) -> LinkageModel:
        """Read a file written by :meth:`save`. Raises :class:`ConfigError` when the file is
        missing, unreadable, not a model, or its settings do not hash to its version."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError as e:
            raise ConfigError(f"linkage model {p} not found", details={"path": str(p)}) from e
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"linkage model {p} is unreadable: {e}",
                              details={"path": str(p)}) from e
        return cls.from_json(text, source=str(p))

    @classmethod
    def from_json(cls, text: str, *, source: str = "<text>") -> LinkageModel:
        """Parse the text of :meth:`to_json`. Raises :class:`ConfigError` when it is not a
        model or its settings do not hash to its version."""
        p = source
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"linkage model {p} is unreadable: {e}",
                              details={"path": str(p)}) from e
        try:
            if doc["format"] != MODEL_FORMAT:
                raise ValueError(f"format {doc['format']!r}")
            settings = doc["settings"]
            if not isinstance(settings, dict) or not settings.get("comparisons"):
                raise ValueError("no comparisons")
            model = cls(settings=settings, version=str(doc["version"]),
                        trained_at=str(doc["trained_at"]), seed=int(doc["seed"]),
                        link_type=doc["link_type"], columns=tuple(doc["columns"]))
        except (TypeError, KeyError, ValueError, AttributeError) as e:
            raise ConfigError(f"linkage model {p} is corrupt: {e}",
                              details={"path": str(p)}) from e
        if model.link_type not in ("link_only", "dedupe_only"):
            raise ConfigError(f"linkage model {p}: unknown link_type", details={"path": str(p)})
        if cls.version_of(settings) != model.version:
            raise ConfigError(f"linkage model {p} is corrupt: settings do not match version",
                              details={"path": str(p)})
        return model


def _level_dicts(settings: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {c["output_column_name"]: c["comparison_levels"] for c in settings["comparisons"]}
