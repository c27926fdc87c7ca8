"""axe-core in the browser tests (axe-playwright-python bundles axe.min.js; nothing is
fetched): :func:`assert_accessible` fails on any serious or critical violation."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe

_AXE = Axe()


def serious_violations(page: Any) -> list[str]:
    """``"rule-id (impact): target, target"`` for each serious or critical violation on the
    page as it is now."""
    results = _AXE.run(page)
    return [f"{v['id']} ({v['impact']}): " + ", ".join(str(n["target"]) for n in v["nodes"])
            for v in results.response["violations"] if v.get("impact") in ("serious",
                                                                            "critical")]


def assert_accessible(page: Any) -> None:
    found = serious_violations(page)
    assert found == [], f"{page.url}: " + "; ".join(found)
