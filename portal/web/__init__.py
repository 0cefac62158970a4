"""The portal web application (FastAPI): pages, the REST API and the built sites."""

from portal.web.app import create_app

__all__ = ["create_app"]
