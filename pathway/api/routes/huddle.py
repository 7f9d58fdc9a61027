"""The huddle board: ``GET /huddle/{team}`` (HTML), ``GET /huddle/{team}/data`` (the JSON it refreshes
from), signing in and out.

A browser cannot send a bearer header when a manager opens the page, so the token is pasted into the
sign-in form (``POST /huddle/{team}/session``) or, once, carried by a link ``?token=…``. Either way the
answer is a redirect to the bare address, on success and on failure, so the token never stays in the
address bar or history. A good token opens a server-side session (pathway.services.sessions): the
HttpOnly, SameSite=Strict cookie holds only the session's own secret. A session that ended (signed
out, expired, its token revoked) says so on the sign-in page.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from pathway.api import schemas
from pathway.api.app_paths import TEMPLATES
from pathway.api.deps import COOKIE, SIGN_IN_REFUSED, bearer, get_access, get_engine
from pathway.api.guard import came_over_https
from pathway.api.security import asset_url
from pathway.errors import PathwayError
from pathway.services.auth import Access, authenticate
from pathway.services.board import board_data
from pathway.services.sessions import SESSION_HOURS, close_session, open_session, session_actor

router = APIRouter(tags=["huddle board"])
templates = Jinja2Templates(directory=TEMPLATES)
templates.env.globals["asset"] = asset_url  # static files by content hash: cached until they change


def TeamKey():  # noqa: N802 - a fresh parameter declaration per use
    return Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")


# What the sign-in page says after a redirect (?signin=…): the reason, never the token.
SIGNIN = {
    "unauthorized": ("That token is unknown or revoked. Check it and paste it again.", 401),
    "forbidden": ("That token may not open this team's board: it takes a manager's token for the team, "
                  "or a duty worker's token of the team.", 403),
    "signed_out": ("You signed out: the board is closed on this browser.", 401),
}


def _login(request: Request, team: str, message: str | None, status: int, *,
           alert: bool = True) -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"team": team, "message": message, "alert": alert,
                                                              "hours": SESSION_HOURS}, status_code=status)


def _sign_in(request: Request, engine, team: str, token: str) -> RedirectResponse:
    """Open a session with ``token`` and go to the board, or back to the sign-in page saying why not."""
    try:
        secret, actor = open_session(engine, token, team)
    except PathwayError as exc:
        code = exc.code if exc.code in SIGNIN else "unauthorized"
        if exc.http_status == 401:  # counted against the address like any refused sign-in (429 past the limit)
            setattr(request.state, SIGN_IN_REFUSED, True)
        return RedirectResponse(f"/huddle/{team}?signin={code}", status_code=303)
    request.state.actor = actor.label
    response = RedirectResponse(f"/huddle/{team}", status_code=303)
    response.set_cookie(COOKIE, secret, max_age=SESSION_HOURS * 3600, httponly=True, samesite="strict",
                        secure=came_over_https(request.scope, engine.settings.security), path="/")
    return response


@router.get("/huddle/{team}", response_class=HTMLResponse,
            responses={303: {"description": "a sign-in by link: to the board, or back to the sign-in page"},
                       401: {"content": {"text/html": {}}}, 403: {"content": {"text/html": {}}}})
def huddle(request: Request, team: str = TeamKey(),
           token: str | None = Query(default=None, max_length=200,
                                     description="a sign-in by link: opens a session, then redirects without it"),
           signin: str | None = Query(default=None, max_length=32, description="why the sign-in page is shown"),
           engine=Depends(get_engine)):
    """The huddle board (manager, or duty worker of the team)."""
    if token is not None:
        return _sign_in(request, engine, team, token)
    found, from_cookie = bearer(request)
    if not found:
        message, status = SIGNIN.get(signin or "", (None, 401))
        return _login(request, team, message, status, alert=signin != "signed_out")
    try:
        actor = session_actor(engine, found) if from_cookie else authenticate(engine, found)
        request.state.actor = actor.label
        Access(engine, actor).see_board(team)
        data = board_data(engine, team, actor)
    except PathwayError as exc:
        response = _login(request, team, exc.detail, exc.http_status)
        if exc.http_status == 401 and from_cookie:
            response.delete_cookie(COOKIE, path="/")
        return response
    return templates.TemplateResponse(request, "huddle.html", {"team": team, "data": data, "actor": actor})


# Browsers say where a form was posted from; the board's forms are posted only from its own pages, so
# another site cannot sign a browser in to a session of its choosing, or out.
OWN_FORMS = (None, "same-origin", "none")


def _from_elsewhere(request: Request, team: str) -> HTMLResponse | None:
    if request.headers.get("sec-fetch-site") in OWN_FORMS:
        return None
    return _login(request, team, "The board's sign-in and sign-out forms work only from the board's own pages.", 403)


SIGN_FORMS = {303: {"description": "to the board, or to its sign-in page saying why not"},
              403: {"content": {"text/html": {}}, "description": "a form posted from another site"}}


@router.post("/huddle/{team}/session", status_code=303, responses=SIGN_FORMS)
def sign_in(request: Request, team: str = TeamKey(), token: str = Form(max_length=200), engine=Depends(get_engine)):
    """The board's sign-in form (anyone: the token in the form field ``token`` decides): the token travels in
    the body, a session opens, then the browser goes to the board."""
    return _from_elsewhere(request, team) or _sign_in(request, engine, team, token)


@router.post("/huddle/{team}/logout", status_code=303, responses=SIGN_FORMS)
def sign_out(request: Request, team: str = TeamKey(), engine=Depends(get_engine)):
    """Sign the board out on this browser (anyone): the session its cookie names ends on the server and the
    cookie is removed."""
    refused = _from_elsewhere(request, team)
    if refused:
        return refused
    found, from_cookie = bearer(request)
    if found and from_cookie:
        close_session(engine, found)
    response = RedirectResponse(f"/huddle/{team}?signin=signed_out", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/huddle/{team}/data", response_model=schemas.Row,
            responses={401: {"model": schemas.ErrorBody}, 403: {"model": schemas.ErrorBody},
                       404: {"model": schemas.ErrorBody}})
def huddle_data(team: str = TeamKey(), access: Access = Depends(get_access)):
    """Everything the board shows, as JSON (manager, or duty worker of the team)."""
    access.see_board(team)
    return board_data(access.engine, team, access.actor)


@router.get("/favicon.ico", include_in_schema=False)
def favicon():
    """Browsers ask for it even when the page names its icon."""
    return RedirectResponse(asset_url("favicon.svg"), status_code=301)
