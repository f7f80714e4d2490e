"""The demo's banner: the URLs that are served, the demo users with their secrets, the feeds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feeds.cli.output import table

if TYPE_CHECKING:
    from caldav_bridge.demo import DemoResult
    from caldav_bridge.runtime import Runtime

__all__ = ["LINKS", "demo_summary", "demo_text", "run_demo"]

#: The banner's links, in order: name and path (under the public URL). Only those the app serves are
#: printed when the app is at hand (``serve --demo``); the OLS API's path is a setting.
LINKS: tuple[tuple[str, str], ...] = (
    ("service", "/"),
    ("docs", "/api/docs"),
    ("api", "/api/v1/appointments"),
    ("openapi", "/api/openapi.json"),
    ("ols", "{ols}/appointments"),
    ("health", "/healthz"),
    ("caldav", "/dav/"),
)


def run_demo(rt: Runtime) -> DemoResult:
    from caldav_bridge.demo import seed_demo
    from caldav_bridge.selfbooking.demo import seed_self_booking
    from caldav_bridge.store.migrate import upgrade

    upgrade(rt.engine)
    result = seed_demo(rt.uow(), rt.settings.data_dir)
    seed_self_booking(rt.uow, rt.settings)  # the consultants' team and its booking link
    return result


def _with_feed_urls(base: str, entry: dict[str, Any]) -> dict[str, Any]:
    """A demo user or team with each calendar's feed URLs in place of its feed secret."""
    from caldav_bridge.services.feed_tokens import feed_urls

    calendars = []
    for cal in entry.get("calendars", []):
        cal = dict(cal)
        secret = cal.pop("feed_secret", None)
        if secret:
            cal["feed"] = feed_urls(base, secret).model_dump()
        calendars.append(cal)
    return {**entry, "calendars": calendars}


def demo_summary(rt: Runtime, result: DemoResult, served: Callable[[str], bool] | None = None) -> dict[str, Any]:
    """What the demo seeded, with the URLs (``served`` says which paths the app answers, if known)."""
    from caldav_bridge.demo import DemoResult
    from caldav_bridge.selfbooking.demo import demo_link

    base = rt.settings.public_url.rstrip("/")
    result = DemoResult(
        [_with_feed_urls(base, u) for u in result.users], result.appointments_created, result.appointments_total
    )
    paths = {name: path.format(ols=rt.settings.ols_prefix) for name, path in LINKS}
    return {
        "urls": {name: base + path for name, path in paths.items() if served is None or served(path)},
        "users": [u for u in result.users if "username" in u],
        "teams": [u for u in result.users if "team" in u],
        "appointments": {"created": result.appointments_created, "total": result.appointments_total},
        "self_booking": {
            "link": demo_link(rt.settings),
            "mail": rt.settings.smtp_host or str(Path(rt.settings.data_dir) / "mail"),
        },
        "warning": "demo secrets are for local use only",
    }


def demo_text(summary: dict[str, Any]) -> str:
    lines = ["Appointment Service demo", ""]
    lines += [f"  {name:<8} {url}" for name, url in summary["urls"].items()]
    lines += [
        "",
        "Demo users (local use only):",
        table(
            [{**u, "calendar": ", ".join(c["name"] for c in u["calendars"])} for u in summary["users"]],
            ["username", "role", "password", "token", "calendar"],
        ),
    ]
    feeds = [
        (c["name"], c["feed"]["url"])
        for u in summary["users"] + summary["teams"]
        for c in u["calendars"]
        if "feed" in c
    ]
    if feeds:
        lines += ["", "iCal feeds (minimal privacy; the calendar page is the same URL under /calendar/ without .ics):"]
        lines += [f"  {name:<28} {url}" for name, url in feeds]
    example = next(u for u in summary["users"] if u["role"] == "dispatcher")
    api = summary["urls"].get("api")
    if api:
        lines += ["", "Try:", f"  curl -H 'Authorization: Bearer {example['token']}' {api}"]
    fitter = next((u for u in summary["users"] if u["role"] == "fitter"), None)
    caldav = summary["urls"].get("caldav")
    if fitter is not None and caldav:  # CalDAV clients sign in with the username and the app password above
        lines += [
            f"  CalDAV (Apple Calendar, Thunderbird, DAVx5): {caldav}"
            f"  user {fitter['username']}, password {fitter['password']}"
        ]
    appts = summary["appointments"]
    lines += ["", f"{appts['total']} demo appointments ({appts['created']} created now)."]
    booking = summary.get("self_booking")
    if booking:
        lines += [
            "",
            f"Book as a customer: {booking['link']}",
            f"  customer emails go to {booking['mail']} (sent every 15 s; `appointment-service messages list`)",
        ]
    return "\n".join(lines)
