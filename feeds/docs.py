"""The service's front door: ``/`` (links to everything a person opens) and ``/api/docs`` (Swagger UI).

Swagger UI comes from the ``flask-swagger-ui`` package, which ships its JavaScript and CSS: the docs
load nothing from other hosts, so they work offline. They read ``/api/openapi.json``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, render_template
from flask_swagger_ui import get_swaggerui_blueprint

__all__ = ["DEMO_LINKS", "DOCS_PATH", "bp", "demo_links", "init_app", "set_demo_links"]

DOCS_PATH = "/api/docs"
#: ``app.config`` key: the demo's pages as ``(label, url)`` pairs, set by ``serve --demo``.
DEMO_LINKS = "APPOINTMENTS_DEMO_LINKS"
bp = Blueprint("root", __name__)


@bp.get("/")
def index() -> str:
    """Links to the API docs, the OpenAPI document, health, CalDAV and (in the demo) the demo's pages."""
    return render_template("index.html", docs=DOCS_PATH + "/", demo=current_app.config.get(DEMO_LINKS) or [])


def set_demo_links(app: Flask, links: list[tuple[str, str]]) -> None:
    """Show ``links`` (label, URL) on the root page: the demo's calendar pages and the like."""
    app.config[DEMO_LINKS] = list(links)


def demo_links(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The demo's pages from the demo summary (``feeds.cli.admin.demo_summary``): each calendar's page."""
    links = []
    for entry in [*summary.get("users", []), *summary.get("teams", [])]:
        for calendar in entry.get("calendars", []):
            page = calendar.get("feed", {}).get("page")
            if page:
                links.append((f"Calendar page of {calendar['name']}", page))
    return links


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(
        get_swaggerui_blueprint(
            DOCS_PATH,
            "/api/openapi.json",
            config={
                "app_name": "Appointment Service API",
                "validatorUrl": None,  # the default asks an online validator: nothing leaves this host
                "deepLinking": True,
                "docExpansion": "list",
                "defaultModelsExpandDepth": 1,
            },
            blueprint_name="api_docs",
        )
    )
