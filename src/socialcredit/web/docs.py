"""API docs that work without internet: ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc).

FastAPI's own docs pages load Swagger UI and ReDoc from a CDN (jsDelivr) and ReDoc's fonts
from Google, so on a registry network without internet they are blank. Here the same
libraries are served from the installed ``fastapi-offline`` package (a pinned dependency that
carries ``swagger-ui-bundle.js``, ``swagger-ui.css``, ``redoc.standalone.js`` and a favicon;
no other part of it is used), mounted at ``/docs/assets``, together with this package's
``static/docs/`` folder (``swagger-init.js``, which starts Swagger UI).

The pages hold no inline script or style, so a strict ``Content-Security-Policy``
(``script-src 'self'``) allows them; Swagger UI's validator badge (a call to
validator.swagger.io) is switched off.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from socialcredit.web import STATIC_DIR

__all__ = ["ASSETS_PREFIX", "install_docs"]

#: Where the docs' scripts and styles are served.
ASSETS_PREFIX = "/docs/assets"


def install_docs(app: FastAPI) -> None:
    """Serve ``GET /docs``, ``GET /redoc``, ``GET /favicon.ico`` and the assets mount on
    ``app`` (built with ``docs_url=None, redoc_url=None``); the pages render ``docs.html`` /
    ``redoc.html`` from ``app.state.templates`` with the app's title and ``openapi_url``.

    Raises:
        RuntimeError: (from Starlette, at start-up) the ``fastapi-offline`` package is not
            installed: ``pip install fastapi-offline``.
    """

    def page(template: str, request: Request) -> HTMLResponse:
        html = request.app.state.templates.get_template(template).render(
            title=app.title, openapi_url=app.openapi_url, assets=ASSETS_PREFIX)
        return HTMLResponse(html)

    async def swagger(request: Request) -> HTMLResponse:
        return page("docs.html", request)

    async def redoc(request: Request) -> HTMLResponse:
        return page("redoc.html", request)

    async def favicon() -> Response:
        # browsers ask every site for it; a 404 in every log is noise
        icon = resources.files("fastapi_offline") / "static" / "favicon.png"
        return Response(icon.read_bytes(), media_type="image/png",
                        headers={"Cache-Control": "public, max-age=86400"})

    app.add_api_route("/favicon.ico", favicon, methods=["GET"], include_in_schema=False)
    app.add_api_route("/docs", swagger, methods=["GET"], include_in_schema=False)
    app.add_api_route("/redoc", redoc, methods=["GET"], include_in_schema=False)
    app.mount(ASSETS_PREFIX, StaticFiles(directory=STATIC_DIR / "docs",
                                         packages=[("fastapi_offline", "static")]),
              name="docs-assets")
