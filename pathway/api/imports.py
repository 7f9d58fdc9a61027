"""``POST /imports``: a back end sends its history extract over HTTP; the same all-or-nothing import as
``pathway import``. The body is the CSV itself (``Content-Type: text/csv``) or a multipart form with a
``file`` part and an optional ``mapping`` part (the mapping file's TOML text)."""

from __future__ import annotations

import os
import shutil
import tempfile
import tomllib
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from pathway.api.deps import get_actor, get_engine
from pathway.errors import PathwayError, ValidationError
from pathway.services.auth import Actor, require
from pathway.services.history import ImportMapping
from pathway.settings import Security

router = APIRouter(tags=["history"])
RAW_TYPES = ("text/csv", "application/csv", "text/plain", "application/octet-stream")


class UnsupportedMediaType(PathwayError):
    code = "unsupported_media_type"
    http_status = 415


SPOOL_PREFIX = "pathway-import-"


def upload_dir(security: Security) -> Path:
    """The directory imports are spooled to: made private (0700) to the engine's user."""
    path = Path(security.upload_dir or Path(tempfile.gettempdir()) / f"pathway-uploads-{os.getuid()}")
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_uid != os.getuid() or path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)  # raises if another user owns it: better refused than shared
    return path


def clear_spool(security: Security) -> int:
    """Remove the uploads a process left behind when it was killed mid-import (each spooled file names
    its process; a file of a process still running is left alone). Returns how many were removed."""
    removed = 0
    for found in upload_dir(security).glob(f"{SPOOL_PREFIX}*.csv"):
        pid = found.name[len(SPOOL_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and _running(int(pid)):
            continue
        found.unlink(missing_ok=True)
        removed += 1
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _spool(request: Request) -> tuple[str, ImportMapping | None]:
    """The CSV in a temporary file of the private upload directory (never all in memory), and the
    mapping if one was sent."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fd, path = tempfile.mkstemp(prefix=f"{SPOOL_PREFIX}{os.getpid()}-", suffix=".csv",
                                dir=upload_dir(request.app.state.engine.settings.security))
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
