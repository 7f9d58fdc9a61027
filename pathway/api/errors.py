"""Every error leaves as ``{"error": CODE, "detail": TEXT, …}``: domain errors, validation, HTTP and database."""

from __future__ import annotations

import logging

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pathway.errors import PathwayError

log = logging.getLogger("pathway.http")

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "too_large",
              415: "unsupported_media_type", 422: "validation_error", 501: "not_implemented"}


def error_response(status: int, code: str, detail: str, **extra) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": code, "detail": detail, **extra}, status_code=status, headers=headers)


def _where(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) if parts else "body"


def validation_detail(errors) -> tuple[str, list[dict]]:
    """FastAPI's validation errors as one sentence and a list of {field, message}."""
    items = []
    for err in errors:
        kind = err.get("type", "")
        loc = err.get("loc", ())
        if kind == "json_invalid":
            message = "the body is not valid JSON"
        elif kind == "extra_forbidden":
            message = "unknown field; it is not part of this request"
        elif kind == "missing":
            message = "required"
        else:
            message = err.get("msg", "invalid")
        field = "body" if kind == "json_invalid" else _where(loc)  # its loc is a character position
        items.append({"field": field, "in": str(loc[0]) if loc else "body", "message": message})
    text = "; ".join(f"{i['field']}: {i['message']}" for i in items) or "the request is not valid"
    return text, items


def install(app: FastAPI) -> None:
    @app.exception_handler(PathwayError)
    async def _pathway(request: Request, exc: PathwayError):
        return error_response(exc.http_status, exc.code, exc.detail,
                              **{k: v for k, v in exc.extra.items() if k not in ("error", "detail")})

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        text, items = validation_detail(exc.errors())
        return error_response(422, "validation_error", text, errors=items)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        code = HTTP_CODES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such path: {request.url.path}"
        return error_response(exc.status_code, code, detail)

    @app.exception_handler(NotImplementedError)
    async def _not_built(request: Request, exc: NotImplementedError):
        return error_response(501, "not_implemented", f"{exc} is not available in this build")

    @app.exception_handler(sqlalchemy.exc.DataError)
    async def _data(request: Request, exc: sqlalchemy.exc.DataError):
        # A value that passed validation but the database cannot hold (e.g. out of range): the caller's input.
        log.warning("database refused a value on %s %s: %s", request.method, request.url.path,
                    type(exc.orig).__name__)
        return error_response(422, "validation_error", "a value in the request is out of range for the database")
