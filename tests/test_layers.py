"""The layers of DESIGN §5 hold: import-linter checks the contracts of ``pyproject.toml``
(store at the bottom, the stages in layers, no stage imports a face, the gate apart from the
intake and the faces, the simulator never touches the store nor a face), and nothing but the
settings, the errors and the low modules sits loose at the top of the package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_layer_contract_is_kept() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is a dev dependency: pip install -e '.[dev]'"
    done = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "broken" not in done.stdout.split("Contracts:")[-1].replace("0 broken", "")


def test_the_layers_contract_names_every_stage() -> None:
    """A new stage folder left out of the layers would be checked by nothing."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    layers = next(c for c in config["tool"]["importlinter"]["contracts"]
                  if c["id"] == "stages-in-layers")["layers"]
    named = {m.strip() for layer in layers for part in layer.split("|")
             for m in part.split(":")}
    package = ROOT / "src" / "socialcredit"
    stages = {f"socialcredit.{d.name}" for d in package.iterdir()
              if (d / "__init__.py").exists()} - {"socialcredit.simulate"}
    assert stages <= named, sorted(stages - named)


def test_only_settings_errors_and_low_modules_sit_at_the_top() -> None:
    """DESIGN §5: the top of the package holds the settings, the error root and the low modules
    the layers contract names (engines, freetext); every face and stage is a folder (issue #18:
    the registry facade, keys and TOTP moved into api/, the demo's run into cli/)."""
    package = ROOT / "src" / "socialcredit"
    loose = sorted(p.stem for p in package.glob("*.py"))
    assert loose == ["__init__", "__main__", "engines", "errors", "freetext", "settings"]


def test_every_function_the_architecture_page_names_exists() -> None:
    """docs/architecture.md follows a furnisher row to a refusal, naming the function at each
    stage; a move that forgets the page fails here."""
    import importlib
    import re

    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    names = sorted(set(re.findall(r"`(socialcredit(?:\.\w+)+)`", text)))
    assert len(names) >= 15, names
    for dotted in names:
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):  # the longest importable module, then attributes
            try:
                obj: object = importlib.import_module(".".join(parts[:cut]))
            except ModuleNotFoundError:
                continue
            for attr in parts[cut:]:
                assert hasattr(obj, attr), f"{dotted}: no {attr!r} in {obj!r}"
                obj = getattr(obj, attr)
            break
        else:
            raise AssertionError(f"{dotted} names no module")
