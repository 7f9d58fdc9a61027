"""Events for back ends: the event feed, webhook subscriptions' listing, delivery log, redelivery and
secret rotation."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query

from pathway.api import schemas
from pathway.api.deps import get_access
from pathway.services.auth import Access
from pathway.services.outbox import FEED_LIMIT

router = APIRouter(tags=["events"])
ERRORS = {401: {"model": schemas.ErrorBody}, 403: {"model": schemas.ErrorBody},
          404: {"model": schemas.ErrorBody}, 422: {"model": schemas.ErrorBody}}


def WebhookId():  # noqa: N802 - a fresh parameter declaration per use
    return Path(ge=1, le=schemas.MAX_INT, description="the webhook's id")


@router.get("/events", response_model=schemas.Row, responses=ERRORS)
def events(after: str | None = Query(None, max_length=200, description="a next_cursor the feed returned; 0 or "
                                     "nothing for the start"),
           limit: int = Query(100, description=f"{FEED_LIMIT[0]} to {FEED_LIMIT[1]}"),
           kind: list[str] | None = Query(None, description="event kinds, repeated or comma-separated"),
           team: str | None = Query(None, max_length=64),
           access: Access = Depends(get_access)):
    """Every event after the cursor in commit order, with the webhook's ``type``, ``timestamp`` and ``data``:
    ``{items, next_cursor}`` (integration, admin). Poll with next_cursor; from 0 it rebuilds every episode."""
    kinds = [k.strip() for value in kind or [] for k in value.split(",") if k.strip()] or None
    return access.events(after, limit, kinds, team)


@router.get("/webhooks", response_model=list[schemas.Row], responses=ERRORS)
def list_webhooks(access: Access = Depends(get_access)):
    """Every subscription, paused or not and why; never a secret, URLs masked (admin, integration)."""
    return access.webhooks()


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[schemas.Row], responses=ERRORS)
def deliveries(webhook_id: int = WebhookId(), status: str | None = Query(None, description="pending, delivered "
                                                                          "or failed"),
               limit: int = Query(100, ge=1, le=1000), access: Access = Depends(get_access)):
    """The subscription's latest deliveries, each with its attempts (admin, integration)."""
    return access.deliveries(webhook_id, status, limit)


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", response_model=schemas.Row,
             responses=ERRORS)
def redeliver(webhook_id: int = WebhookId(), delivery_id: int = Path(ge=1, le=schemas.MAX_INT),
              access: Access = Depends(get_access)):
    """Send a delivery again now, whatever its status (admin, integration)."""
    return access.redeliver(webhook_id, delivery_id)


@router.post("/webhooks/{webhook_id}/rotate", response_model=schemas.Row, responses=ERRORS)
def rotate(body: schemas.SecretRotate, webhook_id: int = WebhookId(), access: Access = Depends(get_access)):
    """A new signing secret, in this reply only; the old one also signs for ``overlap`` seconds (admin,
    integration)."""
    return access.rotate_webhook_secret(webhook_id, body.secret, body.overlap)
