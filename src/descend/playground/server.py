"""The playground's web server: a Starlette app over :mod:`.api`, and ``serve`` to run it.

``create_app()`` routes the page and its assets (every file from ``static/`` inside the
package) and the JSON API. Each API call runs in a worker thread, so that a long run
never holds up another request, and answers bad input with status 400 and
``{"error": message}``; nothing answers with a traceback. ``serve(host, port,
open_browser)`` is what ``descend playground`` calls.

>>> app = create_app(time_limit=1.0)
>>> [route.path for route in app.routes]
['/', '/api/run', '/api/contours', '/api/functions', '/api/methods', '/static']
"""

from __future__ import annotations

import ipaddress
import json
import socket
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from descend import _validate

from . import api
from .checks import MAX_BODY, BadRequest

__all__ = ["create_app", "serve"]

STATIC = Path(__file__).parent / "static"
# The page may load and call nothing but this server: the promise that nothing is
# fetched from another host, kept by the browser itself.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
SHUTDOWN_GRACE = 5  # seconds that requests in flight get to finish after Ctrl-C


def create_app(time_limit: float = api.DEFAULT_TIME_LIMIT) -> Starlette:
    """The playground as an ASGI app; ``time_limit`` bounds each run, in seconds.

    Raises
    ------
    ValueError, TypeError
        If ``time_limit`` is not a finite number > 0.
    """
    limit = _validate.positive("time_limit", time_limit, "; it is in seconds per run, e.g. 2")

    async def run(request: Request) -> Response:
        return await _answer(api.run, await _json_body(request), limit)

    async def contours(request: Request) -> Response:
        return await _answer(api.contours, await _json_body(request))

    async def functions(request: Request) -> Response:
        return await _answer(api.functions)

    async def methods(request: Request) -> Response:
        return await _answer(api.methods)

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    routes = [
        Route("/", page),
        Route("/api/run", run, methods=["POST"]),
        Route("/api/contours", contours, methods=["POST"]),
        Route("/api/functions", functions),
        Route("/api/methods", methods),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    handlers = {BadRequest: _bad_request, HTTPException: _http_error, Exception: _server_error}
    return Starlette(routes=routes, exception_handlers=handlers)  # type: ignore[arg-type]


async def _json_body(request: Request) -> Any:
    """The body as JSON: at most MAX_BODY bytes (as declared, and as it arrives), sent as
    application/json (which a page on another site cannot send without asking first)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise BadRequest(f"send the body as Content-Type: application/json, got {kind or 'none'!r}")
    declared = request.headers.get("content-length", "")
    too_large = f"the request body is larger than the {MAX_BODY} bytes the playground takes"
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise BadRequest(too_large)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise BadRequest(too_large)
    try:
        return json.loads(bytes(body), parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise BadRequest(
            f"the request body is not JSON: {error.msg} at line {error.lineno}, "
            f"column {error.colno}"
        ) from None
    except UnicodeDecodeError:
        raise BadRequest("the request body is not JSON: it is not UTF-8 text") from None
    except RecursionError:
        raise BadRequest("the request body is nested too deeply") from None


def _no_constant(name: str) -> Any:
    raise BadRequest(f"the request body is not JSON: {name} is not a JSON number; use null")


async def _answer(work: Callable[..., Any], *args: Any) -> Response:
    """``work(*args)`` in a worker thread, encoded there too (a run's JSON is large)."""

    def encoded() -> bytes:
        return json.dumps(work(*args), allow_nan=False, separators=(",", ":")).encode()

    return Response(await run_in_threadpool(encoded), media_type="application/json")


async def _bad_request(request: Request, error: BadRequest) -> Response:
    return JSONResponse(error.payload(), status_code=400)


async def _http_error(request: Request, error: HTTPException) -> Response:
    messages = {404: f"there is nothing at {request.url.path}", 405: "method not allowed"}
    message = messages.get(error.status_code, str(error.detail))
    return JSONResponse({"error": message}, status_code=error.status_code)


async def _server_error(request: Request, error: Exception) -> Response:
    # A bug, not bad input (that is a BadRequest): say what broke, with no traceback.
    return JSONResponse({"error": f"internal error: {type(error).__name__}"}, status_code=500)


def serve(host: str, port: int, open_browser: bool) -> None:
    """Serve the playground on ``host:port`` until Ctrl-C, then return.

    The first line printed is ``descend playground: http://HOST:PORT/`` (with the port
    actually bound when ``port`` is 0), the second says who can reach it.

    Raises
    ------
    OSError
        The address cannot be bound (a port in use, an unknown host).
    """
    import uvicorn

    listening = _listening_socket(host, port)
    url = f"http://{_url_host(host)}:{listening.getsockname()[1]}/"
    print(f"descend playground: {url}", flush=True)
    print(_reach(host), flush=True)
    if open_browser:
        webbrowser.open(url)
    config = uvicorn.Config(create_app(), log_level="warning", access_log=False,
                            timeout_graceful_shutdown=SHUTDOWN_GRACE)  # fmt: skip
    try:
        uvicorn.Server(config).run(sockets=[listening])
    except KeyboardInterrupt:  # uvicorn shuts down, then raises Ctrl-C again: we are done
        pass
    finally:
        listening.close()


def _listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (port 0: a free one) and listening."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        listening = socket.socket(family, kind, proto)
    except OSError as error:
        raise OSError(f"cannot listen on {host!r}: {error}") from None
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(address)
        listening.listen()
    except OSError as error:
        listening.close()
        raise OSError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return listening


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host  # an IPv6 address in a URL


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _reach(host: str) -> str:
    if _is_loopback(host):
        return f"listening on {host}: this machine only. Ctrl-C stops it."
    return (
        f"warning: listening on {host}: anyone who can reach this machine over the network "
        "can use the playground and its CPU. Ctrl-C stops it."
    )
