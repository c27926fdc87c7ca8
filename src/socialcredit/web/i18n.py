"""The language of the pages: Simplified Chinese or English, chosen per request.

Order: a ``?lang=`` switch on any page (remembered in the ``sc_lang`` cookie for a year),
else that cookie, else the browser's ``Accept-Language`` (q-values honoured), else English.
:class:`LanguageMiddleware` puts the choice in a context variable for the request, so every
template rendered while serving it (Jinja2's ``i18n`` extension, installed by
:func:`install`) speaks that language without each route passing it along.

Messages live in the package as a gettext catalogue, ``web/locale/zh/LC_MESSAGES/messages.po``,
read once per process and compiled in memory (no ``.mo`` file to forget to rebuild). Babel
extracts them from the templates, the ``N_()`` tables of the web modules and, with
:func:`extract_policy`, the text for people in ``policy/default.yaml``; to add messages::

    pybabel extract -F babel.cfg -k N_ -o messages.pot src/socialcredit
    pybabel update -i messages.pot -d src/socialcredit/web/locale -l zh   # then fill msgstr

``tests/test_i18n.py`` fails while a message has no Chinese.

An unknown ``?lang=`` value is not an error page: the page is served in the language chosen
otherwise and says which languages exist (template global ``lang_error()``).
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext as gettext_module
import io
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jinja2
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "COOKIE",
    "LANGUAGES",
    "LOCALE_DIR",
    "LanguageMiddleware",
    "current",
    "gettext",
    "install",
    "local_date",
    "extract_policy",
    "negotiate",
    "ngettext",
    "policy_texts",
    "using",
]

#: Language code → its own name, shown on the switch.
LANGUAGES: dict[str, str] = {"en": "English", "zh": "中文"}
#: The Babel locale each language writes dates with.
BABEL_LOCALE = {"en": "en", "zh": "zh_Hans_CN"}
COOKIE = "sc_lang"
LOCALE_DIR: Path = Path(__file__).resolve().parent / "locale"

_lang: ContextVar[str] = ContextVar("sc_lang", default="en")
_error: ContextVar[str | None] = ContextVar("sc_lang_error", default=None)


def policy_texts(policy: dict[str, Any]) -> Iterator[str]:
    """The text a policy writes for people (a parsed policy YAML): service and benefit names,
    the general way to contest, each list's title, grounds and way to contest, each score's
    title (and its title on an organisation's file) and factor reasons; whitespace runs folded
    to one space, as the pages show them."""
    yield from (str(v) for v in (policy.get("services") or {}).values())
    yield from (str(v) for v in (policy.get("benefits") or {}).values())
    if policy.get("how_to_contest"):
        yield " ".join(str(policy["how_to_contest"]).split())
    for spec in (policy.get("lists") or {}).values():
        yield str(spec["title"])
        yield from (str(v) for v in (spec.get("grounds") or {}).values())
        if spec.get("how_to_contest"):
            yield " ".join(str(spec["how_to_contest"]).split())
    for score in (policy.get("scores") or {}).values():
        yield str(score["title"])
        yield str(score.get("organisation_title") or "Credit score")
        yield from (str(f["reason"]) for f in score.get("factors") or ())


def extract_policy(fileobj: Any, keywords: Any, comment_tags: Any,
                   options: Any) -> Iterator[tuple[int, None, str, list[str]]]:
    """Babel extraction method for a policy YAML file (babel.cfg names it), yielding
    :func:`policy_texts` as ``(lineno 0, None, message, [comment])``."""
    import yaml

    for text in policy_texts(yaml.safe_load(fileobj)):
        yield 0, None, text, ["text for people in the policy"]


def _code(tag: str) -> str | None:
    """``"zh-Hans-CN"``, ``"zh_CN"``, ``"ZH"`` → ``"zh"``; ``"en-GB"`` → ``"en"``; other → None."""
    base = tag.strip().replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


def negotiate(accept_language: str | None) -> str:
    """The best of :data:`LANGUAGES` for an ``Accept-Language`` header (RFC 9110 §12.5.4:
    ``"zh-CN,zh;q=0.9,en;q=0.8"`` → ``"zh"``); English when nothing matches. A malformed
    q-value counts as 0."""
    best, best_q = "en", -1.0
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        code = _code(tag)
        # earlier tags win ties: the header lists them in order of preference
        if code and q > 0 and q - i * 1e-6 > best_q:
            best, best_q = code, q - i * 1e-6
    return best


@functools.cache
def translations(lang: str) -> gettext_module.NullTranslations:
    """The catalogue of ``lang`` (English is the source language: messages as written)."""
    po = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if lang == "en" or not po.exists():
        return gettext_module.NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext_module.GNUTranslations(buf)


def current() -> str:
    """The language of the request being served (``"en"`` outside one)."""
    return _lang.get()


class using:
    """``with using("zh"): ...`` renders in that language (tests, the CLI's report)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else "en"

    def __enter__(self) -> None:
        self._token = _lang.set(self.lang)

    def __exit__(self, *exc: object) -> None:
        _lang.reset(self._token)


def gettext(message: str) -> str:
    return translations(_lang.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_lang.get()).ngettext(singular, plural, n)


def local_date(value: str | dt.date | None, format: str = "long") -> str:
    """A date written the local way: ``2026年6月30日`` in Chinese; ISO ``2026-06-30`` in
    English (unambiguous for every English reader). ISO strings with a time keep only the
    date. ``None`` or ``""`` → ``""``."""
    if not value:
        return ""
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    if _lang.get() == "en":
        return day.isoformat()
    return format_date(day, format=format, locale=BABEL_LOCALE[_lang.get()])


def install(env: jinja2.Environment) -> None:
    """Add Jinja2's ``i18n`` extension to ``env`` with this module's callables (new-style:
    ``_("%(n)s entries", n=3)`` escapes its variables), the ``local_date`` filter and the
    globals ``lang()``, ``languages`` and ``lang_error()``."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["local_date"] = local_date
    env.globals.update(lang=current, languages=LANGUAGES, lang_error=_error.get)


class LanguageMiddleware:
    """Pure ASGI middleware: choose the request's language (see the module docstring) and, on
    ``?lang=xx``, remember it in a cookie (SameSite=Lax, one year; it holds nothing else),
    marked ``Secure`` as the session cookies are: when ``secure`` (``settings.secure_cookies``)
    or the request came over HTTPS, directly or through a trusted proxy (``scope["scheme"]``
    as api/clients.py set it; issue #20, finding 5)."""

    def __init__(self, app: ASGIApp, *, secure: bool = False) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        asked = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"))).get("lang")
        cookie = ""
        for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE:
                cookie = value
        chosen = _code(asked) if asked else None
        lang = chosen or _code(cookie) or negotiate(
            headers.get(b"accept-language", b"").decode("latin-1"))
        lang_token = _lang.set(lang)
        error_token = _error.set(
            None if asked is None or chosen else
            f"Unknown language {asked[:20]!r}: choose " + " or ".join(
                f"{k} ({v})" for k, v in LANGUAGES.items()))

        secure = "; Secure" if self.secure or scope.get("scheme") == "https" else ""

        async def remember(message: Message) -> None:
            if chosen and message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (
                    b"set-cookie", f"{COOKIE}={chosen}; Max-Age=31536000; Path=/; "
                                   f"SameSite=Lax{secure}".encode())]
            await send(message)

        try:
            await self.app(scope, receive, remember)
        finally:
            _lang.reset(lang_token)
            _error.reset(error_token)
