"""Transparency report renderer and the public search page template."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from socialcredit.web import STATIC_DIR, TEMPLATES_DIR, make_environment, money
from socialcredit.web.report import headline, render_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_summary() -> dict[str, Any]:
    return {
        "generated_at": "2026-11-29T08:00:00+00:00",
        "as_of": "2026-11-29",
        "policy_version": "sha256:5f1c0ffee",
        "subjects": 48213,
        "records": 1203377,
        "unlinked_records": 912,
        "rejected_rows": 77,
        "furnishers": 14,
        "ledger_events": 2500001,
        "entries": {
            "dishonest_judgment_debtors": {
                "active": 1234,
                "removed": 40,
                "expired": 12,
                "pending_review": 3,
            },
            "unruly_passengers": {"active": 56, "removed": 1, "expired": 9, "pending_review": 0},
            "ofac_sdn": {"active": 0, "removed": 0, "expired": 0, "pending_review": 0},
        },
        "decisions": {
            "air": {"allow": 90210, "deny": 310, "review": 4},
            "rail_hsr": {"allow": 120000, "deny": 95, "review": 0},
            "credit": {"allow": 5000, "deny": 0, "review": 2},
        },
    }


def empty_summary() -> dict[str, Any]:
    summary = make_summary()
    summary.update(
        subjects=0, records=0, unlinked_records=0, rejected_rows=0, furnishers=0, ledger_events=0
    )
    summary["entries"] = {}
    summary["decisions"] = {}
    return summary


class _Collector(HTMLParser):
    """Collects start tags with attributes and the text, to check structure."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for t, attrs in self.tags if t == tag]


def parse(html: str) -> _Collector:
    parser = _Collector()
    parser.feed(html)
    parser.close()
    return parser


def assert_accessible_and_offline(html: str) -> _Collector:
    doc = parse(html)
    assert doc.find("html") == [{"lang": "en"}]
    for img in doc.find("img"):
        assert img.get("alt"), img
    for th in doc.find("th"):
        assert th.get("scope") in {"col", "row"}, th
    for attrs in doc.tags:
        for name in ("src", "href"):
            value = attrs[1].get(name) or ""
            assert not value.startswith(("http:", "https:", "//")), value
    assert "@import" not in html and "url(" not in html
    return doc


# --------------------------------------------------------------------------------------------
# Transparency report


def test_report_shows_figures_in_words_tables_and_charts(tmp_path: Path) -> None:
    index = render_report(make_summary(), tmp_path / "out")

    assert index == tmp_path / "out" / "index.html"
    html = index.read_text(encoding="utf-8")
    doc = assert_accessible_and_offline(html)

    assert "1,234 people listed as dishonest judgment debtors" in html
    assert "56 passengers restricted from civil flights" in html
    assert "310 flight tickets and 95 high-speed-rail tickets refused" in html
    assert "6 requests referred for review" in html
    # Lists with no active entry are in the table but not in the headline.
    assert "OFAC" not in headline(make_summary())
    for title in (
        "List of dishonest judgment debtors",
        "Passengers restricted from civil flights",
        "OFAC Specially Designated Nationals (individuals)",
    ):
        assert title in html
    for figure in ("48,213", "1,203,377", "912", "77", "2,500,001", "90,210", "120,000"):
        assert figure in html
    assert "sha256:5f1c0ffee" in html
    assert "If you are listed and believe this is wrong" in html

    images = {img["src"]: img for img in doc.find("img")}
    assert set(images) == {"entries.png", "decisions.png"}
    assert "1,234" in (images["entries.png"]["alt"] or "")
    assert "310 refused" in (images["decisions.png"]["alt"] or "")
    # Totals row of the entries table: 1234 + 56 + 0 active.
    assert "1,290" in html


def test_report_json_round_trips_with_sorted_keys(tmp_path: Path) -> None:
    summary = make_summary()
    render_report(summary, tmp_path)

    text = (tmp_path / "report.json").read_text(encoding="utf-8")
    assert json.loads(text) == summary
    assert text == json.dumps(summary, sort_keys=True, indent=2) + "\n"


def test_charts_are_pngs_that_follow_the_data(tmp_path: Path) -> None:
    first = make_summary()
    second = copy.deepcopy(first)
    second["entries"]["dishonest_judgment_debtors"]["active"] = 99
    second["decisions"]["air"]["deny"] = 5000

    render_report(first, tmp_path / "a")
    render_report(first, tmp_path / "a2")
    render_report(second, tmp_path / "b")

    for name in ("decisions.png", "entries.png"):
        a = (tmp_path / "a" / name).read_bytes()
        assert a.startswith(PNG_SIGNATURE)
        assert (tmp_path / "b" / name).read_bytes().startswith(PNG_SIGNATURE)
        assert a != (tmp_path / "b" / name).read_bytes(), name
        assert a == (tmp_path / "a2" / name).read_bytes(), f"{name} is not reproducible"


def test_empty_summary_renders_with_no_data_charts(tmp_path: Path) -> None:
    index = render_report(empty_summary(), tmp_path)

    html = index.read_text(encoding="utf-8")
    assert_accessible_and_offline(html)
    assert "no one listed; no ticket or service refused" in html
    assert "No one has been listed yet." in html
    assert "No gate decisions have been recorded yet." in html
    assert 'data-testid="entries-table"' not in html
    for name in ("decisions.png", "entries.png"):
        assert (tmp_path / name).read_bytes().startswith(PNG_SIGNATURE)
        assert "no data" in html.split(f'src="{name}"')[1].split(">")[0].lower()
    assert json.loads((tmp_path / "report.json").read_text(encoding="utf-8")) == empty_summary()


def test_missing_sections_read_as_empty(tmp_path: Path) -> None:
    index = render_report({"as_of": "2026-11-29"}, tmp_path)
    assert "As of 2026-11-29: no one listed" in index.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        (("entries", "dishonest_judgment_debtors", "active"), -1),
        (("decisions", "air", "deny"), "12"),
        (("records",), 1.5),
    ],
)
def test_invalid_counts_are_refused(tmp_path: Path, path: tuple[str, ...], bad: object) -> None:
    summary = make_summary()
    target: Any = summary
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = bad

    with pytest.raises(ValueError, match=".".join(path)):
        render_report(summary, tmp_path)
    assert list(tmp_path.iterdir()) == []  # validated before anything is written


def test_unknown_lists_and_services_use_their_names(tmp_path: Path) -> None:
    summary = empty_summary()
    summary["entries"] = {"tax_arrears": {"active": 2}}
    summary["decisions"] = {"ferry": {"allow": 1, "deny": 3, "review": 0}}

    html = render_report(summary, tmp_path).read_text(encoding="utf-8")

    assert "2 people on the list “tax_arrears”" in html
    assert "3 requests for ferry refused" in html


def test_concurrent_renders_match_sequential_output(tmp_path: Path) -> None:
    summaries = [make_summary() for _ in range(4)]
    for i, summary in enumerate(summaries):
        summary["decisions"]["air"]["deny"] = 10 * (i + 1)
    for i, summary in enumerate(summaries):
        render_report(summary, tmp_path / f"seq{i}")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda i: render_report(summaries[i], tmp_path / f"par{i}"), range(4)))

    for i in range(4):
        for name in ("decisions.png", "entries.png", "index.html"):
            assert (tmp_path / f"par{i}" / name).read_bytes() == (
                tmp_path / f"seq{i}" / name
            ).read_bytes()


def test_rendering_does_not_use_pyplot(tmp_path: Path) -> None:
    code = (
        "import sys, matplotlib\n"
        "from pathlib import Path\n"
        "from socialcredit.web.report import render_report\n"
        "backend = matplotlib.rcParams._get_backend_or_none()\n"
        f"render_report({{'entries': {{'ofac_sdn': {{'active': 1}}}}}}, Path({str(tmp_path)!r}))\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        "assert matplotlib.rcParams._get_backend_or_none() == backend\n"
    )
    src = Path(__file__).resolve().parents[1] / "src"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "MPLBACKEND"} | {"PYTHONPATH": str(src)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "entries.png").read_bytes().startswith(PNG_SIGNATURE)


# --------------------------------------------------------------------------------------------
# Money filter and environment


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (123456, "CNY", "1,234.56 CNY"),
        (5, "usd", "0.05 USD"),
        (0, "EUR", "0.00 EUR"),
        (-123456, "CNY", "-1,234.56 CNY"),
        (1500, "JPY", "1,500 JPY"),
        (1234567, "KRW", "1,234,567 KRW"),
        (1234567, "KWD", "1,234.567 KWD"),
        (1234, None, "12.34"),
        (None, "CNY", ""),
    ],
)
def test_money(amount: int | None, currency: str | None, expected: str) -> None:
    assert money(amount, currency) == expected


@pytest.mark.parametrize("amount", [12.5, True, "100"])
def test_money_refuses_non_integers(amount: Any) -> None:
    with pytest.raises(TypeError):
        money(amount, "CNY")


def test_environment_escapes_and_registers_filters() -> None:
    env = make_environment()
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"
    assert env.from_string("{{ 250|money('CNY') }}").render() == "2.50 CNY"
    assert env.from_string("{{ 1234567|number }}").render() == "1,234,567"
    assert (TEMPLATES_DIR / "base.html").is_file()
    assert (STATIC_DIR / "style.css").is_file()


# --------------------------------------------------------------------------------------------
# Public search page


def make_result(**overrides: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "entry_id": "ent_01J9Z",
        "list": "dishonest_judgment_debtors",
        "list_title": "List of dishonest judgment debtors",
        "name": "Zhang San",
        "masked_id": "110101********123X",
        "ground": 1,
        "ground_text": "Able to perform the obligation but refuses to",
        "legal_basis": "SPC Provisions (2013, amended 2017), Arts. 1-2",
        "since": "2026-01-05",
        "until": "2028-01-05",
        "furnisher": "Beijing No. 1 Intermediate People's Court",
        "case_number": "(2025) Jing 01 Zhi 123",
        "amount_minor": 123456,
        "currency": "CNY",
    }
    result.update(overrides)
    return result


def render_index(**context: Any) -> str:
    base: dict[str, Any] = {
        "q": "",
        "results": [],
        "count": 0,
        "error": None,
        "policy_version": "sha256:5f1c0ffee",
    }
    base.update(context)
    return make_environment().get_template("index.html").render(**base)


def test_index_renders_result_rows() -> None:
    results = [
        make_result(),
        make_result(
            entry_id="ent_02",
            name="Li Si",
            ground=None,
            ground_text=None,
            case_number=None,
            amount_minor=None,
            currency=None,
        ),
    ]
    html = render_index(q="zhang", results=results, count=2)
    doc = assert_accessible_and_offline(html)

    rows = [a for a in doc.find("tr") if a.get("data-testid") == "result-row"]
    assert [r["data-entry-id"] for r in rows] == ["ent_01J9Z", "ent_02"]
    assert "110101********123X" in html
    assert "1,234.56 CNY" in html
    assert "Ground 1: Able to perform the obligation but refuses to" in html
    assert "SPC Provisions (2013, amended 2017), Arts. 1-2" in html
    assert '<time datetime="2028-01-05">' in html
    assert 'data-count="2"' in html
    assert "2 active public entries match" in html
    assert "Ground None" not in html and "None" not in "".join(doc.text)
    assert (
        'If you are listed and believe this is wrong, <a href="/me">sign in to your file</a> '
        "and dispute the entry"
    ) in html

    # Form: GET, labelled input named q keeping the query, test ids for the browser test.
    (form,) = doc.find("form")
    assert form["method"] == "get" and form["data-testid"] == "search-form"
    (field,) = doc.find("input")
    assert field["name"] == "q" and field["value"] == "zhang"
    assert field["data-testid"] == "search-input"
    (label,) = doc.find("label")
    assert label["for"] == field["id"]
    assert "Name or ID number" in html


def test_index_escapes_names() -> None:
    html = render_index(
        q='<img src=x onerror="alert(1)">',
        results=[make_result(name="<script>alert('x')</script>")],
        count=1,
    )

    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert 'value="&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"' in html


def test_index_shows_error_instead_of_results() -> None:
    html = render_index(q="z", error="query too short", results=[make_result()], count=1)

    doc = parse(html)
    (alert,) = [a for a in doc.find("p") if a.get("data-testid") == "search-error"]
    assert alert["role"] == "alert"
    assert "query too short" in html
    assert 'data-testid="result-row"' not in html
    (field,) = doc.find("input")
    assert field["aria-invalid"] == "true"


def test_index_says_when_nothing_matches() -> None:
    html = render_index(q="Wang Wu", results=[], count=0)

    assert "No active public entries match" in html
    assert 'data-testid="result-count" data-count="0"' in html
    assert 'data-testid="results-table"' not in html


def test_index_without_query_shows_only_the_form() -> None:
    html = render_index()

    assert 'data-testid="search-form"' in html
    assert 'data-testid="result-count"' not in html
    assert "No active public entries match" not in html
    assert '<a href="/me">sign in to your file</a> and dispute the entry' in html


def test_index_says_when_results_are_truncated() -> None:
    html = render_index(q="zhang", results=[make_result()], count=1500)

    assert "1,500 active public entries match" in html
    assert "showing the first 1" in html


def test_headline_counts_people_not_entries(tmp_path: Path) -> None:
    from socialcredit.web.report import headline

    summary = {"as_of": "2026-11-29",
               "entries": {"dishonest_judgment_debtors": {"active": 12, "removed": 0,
                                                          "expired": 0, "pending_review": 0}},
               "listed_people": {"dishonest_judgment_debtors": 9}, "decisions": {}}
    assert "9 people listed as dishonest judgment debtors" in headline(summary)


def test_the_report_file_links_nowhere_off_itself_and_says_what_it_counts(
        tmp_path: Path) -> None:
    """Opened as a file, a link to ``/me`` would be ``file:///me``: the report names the page
    instead; and the headline (people) and the entries table (entries) say which they count."""
    html = render_report(make_summary(), tmp_path / "out").read_text(encoding="utf-8")
    assert re.findall(r'(?:href|src)="/', html) == []
    assert "dispute it on the registry's own site" in html and "<code>/me</code>" in html
    counts = " ".join(html.split("data-testid=\"entries-vs-people\">")[1].split())
    assert counts.startswith("The headline above counts <strong>people</strong>; this table "
                             "counts <strong>entries</strong>")


def test_the_report_shows_the_signed_tree_head_it_commits_to(tmp_path: Path) -> None:
    head = {"tree_size": 12345, "root_hash": "ab" * 32, "timestamp": "2026-11-29T00:00:00Z",
            "key_id": "cd" * 8, "signature": "ef" * 64}
    html = render_report({**make_summary(), "tree_head": head}, tmp_path / "signed"
                         ).read_text(encoding="utf-8")
    assert_accessible_and_offline(html)
    part = html.split('data-testid="tree-head"')[1]
    assert "12,345" in part and "ab" * 32 in part and "ef" * 64 in part
    assert "No tree head has been signed yet." in render_report(
        make_summary(), tmp_path / "unsigned").read_text(encoding="utf-8")
