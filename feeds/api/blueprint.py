"""The ``/api/v1`` blueprint the route modules register their operations on."""

from flask import Blueprint

__all__ = ["bp"]

bp = Blueprint("api_v1", __name__)
