"""The huddle board: ``GET /huddle/{team}`` (HTML) and ``GET /huddle/{team}/data`` (the JSON it refreshes from).

A browser cannot send a bearer header when a manager opens the page, so the first visit may
carry ``?token=…``: the token is checked, kept in an HttpOnly SameSite=Strict cookie, and the
browser is sent back to the bare address so the token does not stay in the address bar or history.
Without a token the page shows a small form to paste one.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from pathway.api import schemas
from pathway.api.app_paths import TEMPLATES
from pathway.api.deps import COOKIE, bearer, get_access, get_engine
from pathway.api.security import asset_url
from pathway.errors import PathwayError
from pathway.services.auth import Access, authenticate
from pathway.services.board import board_data

router = APIRouter(tags=["huddle board"])
templates = Jinja2Templates(directory=TEMPLATES)
templates.env.globals["asset"] = asset_url  # static files by content hash: cached until they change


def TeamKey():  # noqa: N802 - a fresh parameter declaration per use
    return Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
COOKIE_AGE = 12 * 3600  # a working day; then paste the token again
NO_STORE = {"Cache-Control": "no-store"}  # the board lists people's references: keep it out of caches


def _login(request: Request, team: str, message: str | None, status: int) -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"team": team, "message": message},
                                      status_code=status)


@router.get("/huddle/{team}", response_class=HTMLResponse,
            responses={401: {"content": {"text/html": {}}}, 403: {"content": {"text/html": {}}}})
def huddle(request: Request, team: str = TeamKey(),
           token: str | None = Query(default=None, max_length=200, description="first visit only; kept in a cookie"),
           engine=Depends(get_engine)):
    """The huddle board (manager, or duty worker of the team)."""
    if token is not None:
        try:
            actor = authenticate(engine, token)
            request.state.actor = actor.label
            Access(engine, actor).see_board(team)
        except PathwayError as exc:
            return _login(request, team, exc.detail, exc.http_status)
        response = RedirectResponse(request.url.path, status_code=303)
        response.set_cookie(COOKIE, token, max_age=COOKIE_AGE, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/")
        return response
    found, _ = bearer(request)
    if not found:
        return _login(request, team, None, 401)
    try:
        actor = authenticate(engine, found)
        request.state.actor = actor.label
        Access(engine, actor).see_board(team)
        data = board_data(engine, team, actor)
    except PathwayError as exc:
        return _login(request, team, exc.detail, exc.http_status)
    return templates.TemplateResponse(request, "huddle.html", {"team": team, "data": data, "actor": actor},
                                      headers=NO_STORE)


@router.get("/huddle/{team}/data", response_model=schemas.Row,
            responses={401: {"model": schemas.ErrorBody}, 403: {"model": schemas.ErrorBody},
                       404: {"model": schemas.ErrorBody}})
def huddle_data(response: Response, team: str = TeamKey(), access: Access = Depends(get_access)):
    """Everything the board shows, as JSON (manager, or duty worker of the team)."""
    access.see_board(team)
    response.headers.update(NO_STORE)
    return board_data(access.engine, team, access.actor)


@router.get("/favicon.ico", include_in_schema=False)
def favicon():
    """Browsers ask for it even when the page names its icon."""
    return RedirectResponse(asset_url("favicon.svg"), status_code=301)


@router.post("/huddle/logout", status_code=303, include_in_schema=False)
def logout():
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
