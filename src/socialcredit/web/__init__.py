"""Templates, static files and the Jinja2 environment of the public web pages.

``make_environment()`` returns the environment every page is rendered with (the public search
page ``index.html`` and the transparency report ``report.html``, both extending ``base.html``).
It can be handed to Starlette/FastAPI as ``Jinja2Templates(env=make_environment())``.

Filters registered on it:

* ``money(amount_minor, currency)`` – an amount in minor units as text:
  ``money(123456, "CNY") == "1,234.56 CNY"``, ``money(1500, "JPY") == "1,500 JPY"``,
  ``money(None, "CNY") == ""``.
* ``number(n)`` – an integer with thousands separators: ``number(1234567) == "1,234,567"``.

Globals: ``static_prefix`` (default ``"/static"``), the URL path where ``STATIC_DIR`` is served;
override it per environment (``env.globals["static_prefix"] = "/assets"``) if mounted elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

__all__ = [
    "MINOR_UNITS",
    "STATIC_DIR",
    "TEMPLATES_DIR",
    "make_environment",
    "money",
    "number",
]

TEMPLATES_DIR: Path = Path(__file__).resolve().parent / "templates"
"""Directory of the Jinja2 templates (``base.html``, ``index.html``, ``report.html``)."""

STATIC_DIR: Path = Path(__file__).resolve().parent / "static"
"""Directory of the static files (``style.css``), to be served at ``static_prefix``."""

#: ISO 4217 currencies whose number of minor-unit digits is not 2. Any other code (and a
#: missing currency) is formatted with 2 decimal places.
MINOR_UNITS: dict[str, int] = {
    # 0 decimal places
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    # 3 decimal places
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}


def money(amount_minor: int | None, currency: str | None) -> str:
    """Format an amount given in minor units (fen, cents) with its currency code.

    ``money(123456, "CNY") -> "1,234.56 CNY"``, ``money(-5, "usd") -> "-0.05 USD"``,
    ``money(1500, "JPY") -> "1,500 JPY"``, ``money(1234, None) -> "12.34"``,
    ``money(None, "CNY") -> ""`` (no amount).

    Raises:
        TypeError: ``amount_minor`` is not an ``int`` (a ``bool`` or ``float`` is refused rather
            than silently shown as a wrong amount).
    """
    if amount_minor is None:
        return ""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise TypeError(f"amount_minor must be an int in minor units, not {amount_minor!r}")
    code = (currency or "").strip().upper()
    digits = MINOR_UNITS.get(code, 2)
    sign = "-" if amount_minor < 0 else ""
    major, minor = divmod(abs(amount_minor), 10**digits)
    text = f"{sign}{major:,}"
    if digits:
        text += f".{minor:0{digits}d}"
    return f"{text} {code}" if code else text


def number(value: int | None) -> str:
    """An integer with thousands separators (``1234567 -> "1,234,567"``); ``None -> "—"``."""
    if value is None:
        return "—"
    return f"{value:,}"


def make_environment() -> jinja2.Environment:
    """A new Jinja2 environment loading ``TEMPLATES_DIR``, autoescaping HTML.

    Autoescaping is on for ``.html``/``.htm``/``.xml`` templates and for templates made with
    ``from_string``; ``money`` and ``number`` are registered as filters and ``static_prefix`` as
    a global (see the module docstring).
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "htm", "xml"),
            default_for_string=True,
            default=True,
        ),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["money"] = money
    env.filters["number"] = number
    env.globals["static_prefix"] = "/static"
    from socialcredit.web.i18n import install

    install(env)  # gettext in the request's language, local_date, the language switch
    return env
