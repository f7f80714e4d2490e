"""``/api/v1/webhooks``: subscriptions and their deliveries (admin scope)."""

from __future__ import annotations

from flask import Response, jsonify, url_for

from caldav_bridge.webhooks import subscriptions as service
from caldav_bridge.webhooks.destinations import insecure_hosts
from caldav_bridge.webhooks.model import (
    DeliveryList,
    Subscription,
    SubscriptionCreated,
    SubscriptionDraft,
    SubscriptionList,
)
from feeds.api.blueprint import bp
from feeds.auth import current_actor
from feeds.operations import operation
from feeds.runtime import runtime, uow

TAG = "webhooks"


@operation(
    bp,
    "POST",
    "/webhooks",
    summary="Subscribe a URL to appointment events (the signing secret is shown once)",
    tag=TAG,
    body=SubscriptionDraft,
    idempotent=True,
    withhold_on_replay=("secret",),
    responses={201: SubscriptionCreated},
    response_headers={201: ("Location",)},
)
def create_webhook(body: SubscriptionDraft) -> Response:
    allowed = insecure_hosts(runtime().settings.webhook_insecure_hosts)
    created = service.create(uow(), current_actor("api"), body, insecure_hosts=allowed)
    response = jsonify(created.model_dump(mode="json"))
    response.status_code = 201
    response.headers["Location"] = url_for("api_v1.get_webhook", id=created.id)
    return response


@operation(bp, "GET", "/webhooks", summary="List webhook subscriptions", tag=TAG, responses={200: SubscriptionList})
def list_webhooks() -> Response:
    items = service.list_subscriptions(uow(), current_actor("api"))
    return jsonify({"items": [i.model_dump(mode="json") for i in items]})


@operation(bp, "GET", "/webhooks/{id}", summary="Read a webhook subscription", tag=TAG, responses={200: Subscription})
def get_webhook(id: str) -> Response:
    return jsonify(service.get(uow(), current_actor("api"), id).model_dump(mode="json"))


@operation(
    bp,
    "DELETE",
    "/webhooks/{id}",
    summary="Remove a webhook subscription",
    tag=TAG,
    idempotent=True,
    responses={204: "Removed"},
)
def delete_webhook(id: str) -> Response:
    service.delete(uow(), current_actor("api"), id)
    return Response(status=204)


@operation(
    bp,
    "GET",
    "/webhooks/{id}/deliveries",
    summary="The newest deliveries of a subscription, each with its attempts",
    tag=TAG,
    responses={200: DeliveryList},
)
def list_webhook_deliveries(id: str) -> Response:
    items = service.deliveries(uow(), current_actor("api"), id)
    return jsonify({"items": [i.model_dump(mode="json") for i in items]})
