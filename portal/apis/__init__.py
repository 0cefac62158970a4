"""API reference pages: an API entity's definition rendered as themed, searchable Markdown.

OpenAPI 2.0, 3.0, 3.1 and 3.2 become full reference pages; AsyncAPI, GraphQL SDL
and gRPC proto are listed with their operations and shown as source; anything
else is shown as source. Bad content never fails: it comes back as problems.
"""

from portal.apis.model import ApiReference, DefinitionProblem, Operation
from portal.apis.render import locate, render_api

__all__ = ["ApiReference", "DefinitionProblem", "Operation", "locate", "render_api"]
