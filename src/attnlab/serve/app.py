"""The attention explorer's web app: one static page and a small JSON API over runs loaded at startup.

    GET  /                 the page (static/index.html; every asset is served from static/, no CDN)
    GET  /api/runs         [{"id": 0, "name": "...", "task": "...", "arch": "..."}]
    POST /api/explain      {"run": id or name, "text": "...", "options": {...}} -> serve/explain.py's dict
    GET  /api/health       {"ok": true, "runs": N}

Safety: runs are chosen only by index or name among those loaded at startup (never a path from a request);
request bodies are capped (Content-Length and the bytes actually received) -> 413; input text is capped in
characters -> 422; every error is {"error": "one line"} — a UserError's message (422), or "internal error"
(500, the traceback goes to the server log only). Inference runs one request at a time per process
(`max_concurrent`), so concurrent clients queue instead of oversubscribing the CPU.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from attnlab.errors import UserError
from attnlab.explain import REQUEST_MAX_BEAM
from attnlab.serve.explain import explain

log = logging.getLogger("attnlab.serve")
STATIC = Path(__file__).parent / "static"
MAX_BODY_BYTES = 64 * 1024
MAX_INPUT_CHARS = 1000
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class Limits:
    max_body_bytes: int = MAX_BODY_BYTES
    max_input_chars: int = MAX_INPUT_CHARS
    max_concurrent: int = 1  # inferences at once; the rest wait their turn


class Options(BaseModel):
    """Options a page may pass to explain(); tasks ignore none silently: unknown keys are a 422."""

    model_config = ConfigDict(extra="forbid")
    beam: int | None = Field(None, ge=1, le=REQUEST_MAX_BEAM)
    n_best: int | None = Field(None, ge=1, le=REQUEST_MAX_BEAM)
    alpha: float | None = Field(None, ge=0.0, le=5.0)
    hypothesis: int | None = Field(None, ge=0, le=REQUEST_MAX_BEAM - 1)
    temperature: float | None = Field(None, gt=0.0, le=10.0)
    top_k: int | None = Field(None, ge=1, le=1000)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    length: int | None = Field(None, ge=1, le=1000)


class ExplainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run: int | str = 0
    text: str
    options: Options = Field(default_factory=Options)


def run_names(paths: list[Path]) -> list[str]:
    """Display names: the run directory's name, made unique with -2, -3 ... when two runs share it."""
    names: list[str] = []
    for p in paths:
        base = Path(p).resolve().name or "run"
        name, k = base, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class BodyLimit:
    """ASGI middleware: refuse request bodies over `limit` bytes with 413, judged by the Content-Length
    header and by the bytes actually received (chunked or lying clients). The body is buffered here (at
    most limit + 1 bytes) and replayed to the app."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        too_big = f"request body is larger than the {self.limit} bytes this server accepts"
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return await _error(400, "invalid Content-Length header")(scope, receive, send)
                if declared > self.limit:
                    return await _error(413, too_big)(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return await _error(413, too_big)(scope, receive, send)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, sent = b"".join(chunks), False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect like a real stream

        return await self.app(scope, replay, send)


def _validation_message(err: RequestValidationError) -> str:
    parts = []
    if any(e.get("type") == "json_invalid" for e in err.errors()):
        return "invalid request: the body is not valid JSON"
    for e in err.errors()[:3]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def create_app(
    runs: list,
    names: list[str] | None = None,
    *,
    limits: Limits | None = None,
    allowed_hosts: list[str] | None = None,
) -> FastAPI:
    """The explorer over already-loaded runs (attnlab.runs.Run). `allowed_hosts` (e.g. the loopback names)
    turns on Host-header checking, which stops DNS-rebinding pages from reaching a local server."""
    limits = limits or Limits()
    if not runs:
        raise UserError("give at least one run directory to serve")
    names = names or run_names([r.path for r in runs])
    by_name = dict(zip(names, runs, strict=True))
    limiter = anyio.CapacityLimiter(limits.max_concurrent)

    app = FastAPI(title="attnlab attention explorer", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.limits = limits

    @app.exception_handler(UserError)
    async def _user_error(request: Request, exc: UserError):
        return _error(422, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        return _error(422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        return _error(exc.status_code, detail)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, "internal error")

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/api/health")
    async def health():
        return {"ok": True, "runs": len(runs)}

    @app.get("/api/runs")
    async def list_runs():
        return [
            {
                "id": i,
                "name": n,
                "task": r.recipe.task,
                "arch": getattr(r.recipe, "arch", None),
                "limits": {"max_input_chars": limits.max_input_chars},
            }
            for i, (n, r) in enumerate(by_name.items())
        ]

    def pick(key: int | str):
        if isinstance(key, int) and 0 <= key < len(runs):
            return names[key], runs[key]
        if isinstance(key, str) and key in by_name:
            return key, by_name[key]
        raise StarletteHTTPException(404, f"unknown run {str(key)[:60]!r}; loaded runs: {', '.join(names)}")

    @app.post("/api/explain")
    async def explain_endpoint(req: ExplainRequest) -> dict[str, Any]:
        name, run = pick(req.run)
        text = req.text
        if not text.strip():
            raise UserError("empty input: type some text")
        if len(text) > limits.max_input_chars:
            raise UserError(
                f"input is {len(text)} characters, more than the {limits.max_input_chars} this "
                "server accepts; shorten it"
            )
        opts = req.options.model_dump(exclude_none=True)
        start = time.perf_counter()
        try:
            data = await anyio.to_thread.run_sync(lambda: explain(run, text, **opts), limiter=limiter)
        except UserError:
            raise
        except Exception:  # a bug: log it here, answer without any detail
            log.exception("explain failed for run %s", name)
            return _error(500, "internal error")
        data["run"] = name
        data["elapsed_ms"] = round(1000 * (time.perf_counter() - start), 1)
        return data

    app.add_middleware(BodyLimit, limit=limits.max_body_bytes)
    if allowed_hosts:  # outermost: a foreign Host header is refused before anything else runs
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    return app


def load_runs(paths: list[str | Path], device: str = "cpu") -> tuple[list, list[str]]:
    """Load every run once, at startup; returns the runs and their display names."""
    from attnlab.runs import load_run

    runs = [load_run(p, device=device) for p in paths]
    return runs, run_names([Path(p) for p in paths])
