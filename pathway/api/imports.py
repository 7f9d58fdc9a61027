"""``POST /imports``: a back end sends its history extract over HTTP; the same all-or-nothing import as
``pathway import``. The body is the CSV itself (``Content-Type: text/csv``) or a multipart form with a
``file`` part and an optional ``mapping`` part (the mapping file's TOML text)."""

from __future__ import annotations

import os
import shutil
import tempfile
import tomllib

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from pathway.api.deps import get_actor, get_engine
from pathway.errors import PathwayError, ValidationError
from pathway.services.auth import Actor, require
from pathway.services.history import ImportMapping

router = APIRouter(tags=["history"])
RAW_TYPES = ("text/csv", "application/csv", "text/plain", "application/octet-stream")


class UnsupportedMediaType(PathwayError):
    code = "unsupported_media_type"
    http_status = 415


async def _spool(request: Request) -> tuple[str, ImportMapping | None]:
    """The CSV in a temporary file (never all in memory), and the mapping if one was sent."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fd, path = tempfile.mkstemp(prefix="pathway-import-", suffix=".csv")
    try:
        with os.fdopen(fd, "wb") as out:
            if kind == "multipart/form-data":
                form = await request.form()
                upload = form.get("file")
                if upload is None or isinstance(upload, str):
                    raise ValidationError("the form needs a 'file' part holding the CSV extract", field="file")
                await run_in_threadpool(shutil.copyfileobj, upload.file, out)
                mapping = form.get("mapping")
                if mapping is None:
                    return path, None
                text = mapping if isinstance(mapping, str) else (await mapping.read()).decode("utf-8", "replace")
                try:
                    return path, ImportMapping.from_dict(tomllib.loads(text), source="the mapping part")
                except tomllib.TOMLDecodeError as exc:
                    raise ValidationError(f"the mapping part is not valid TOML: {exc}", field="mapping") from None
            if kind not in RAW_TYPES:
                raise UnsupportedMediaType(f"send the extract as text/csv, or as multipart/form-data with a 'file' "
                                           f"part (got {kind or 'no content type'!r})")
            async for chunk in request.stream():
                out.write(chunk)
            return path, None
    except BaseException:
        os.unlink(path)
        raise


BODY = {"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "the CSV extract"},
        "mapping": {"type": "string", "description": "the mapping file's TOML text (columns and codes)"}}}},
}}}


@router.post("/imports", responses={401: {}, 403: {}, 409: {}, 415: {}, 422: {}}, openapi_extra=BODY)
async def import_history(request: Request, engine=Depends(get_engine), actor: Actor = Depends(get_actor)):
    """Backfill history from a CSV extract (integration, admin): every row is checked first, and a bad
    file is refused with each bad row listed by line (`errors: [{line, reason}]`), writing nothing.
    Re-sending the same file changes nothing. Replies with the import's summary."""
    require(actor, "integration", "admin", doing="import history")
    path, mapping = await _spool(request)
    try:
        summary = await run_in_threadpool(engine.import_history, path, mapping, actor=actor.label)
    finally:
        os.unlink(path)
    return summary.to_dict()
