"""A small repository with our site composition, for building real sites in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import GROUP_A, write_files

MKDOCS = """\
site_name: Test Portal
theme:
  name: material
  font: false
markdown_extensions:
  - toc:
      permalink: true
  - tables
  - admonition
  - attr_list
  - md_in_html
  - pymdownx.highlight
  - pymdownx.superfences
plugins:
  - search
  - portal:
      audiences:
        staff:
          title: Staff
          docs: all
          catalog: all
        builders:
          title: Builders
          docs: {audience: [builders]}
          catalog: {kinds: [component, api, group]}
        partners:
          title: Partners
          catalog: {kinds: [api], tags: [public]}
          access: public
"""

INTERNAL_PAGE = """\
---
title: Internal runbook
audience: [builders]
owner: group:default/team-a
reviewed: 2026-11-01
---

# Internal runbook

The SECRET-INTERNAL-MARKER lives here. Ask [operations](../ops/escalation.md#who).

## Restart the workers {#restart}

Run the restart.
"""

PARTNER_PAGE = """\
---
title: Getting started
audience: [partners]
owner: group:default/team-a
reviewed: 2026-11-01
tags: [public]
---

# Getting started

Read the [runbook](../../internal/runbook.md#restart) and [more](../../internal/runbook.md).

## Tokens

Use a bearer token.
"""

PUBLIC_API = """\
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: public-api
  tags: [public]
spec:
  type: openapi
  lifecycle: production
  owner: team-a
  definition: |
    openapi: 3.0.0
    info: {title: Public API, version: 1.0.0}
    paths:
      /things:
        get:
          summary: List things
          responses:
            '200': {description: ok}
"""

INTERNAL_API = """\
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: secret-internal-api
  description: SECRET-INTERNAL-MARKER
spec:
  type: openapi
  lifecycle: production
  owner: team-a
  definition: |
    openapi: 3.0.0
    info: {title: Internal API, version: 1.0.0}
    paths:
      /admin:
        post:
          summary: Admin thing
          responses:
            '204': {description: done}
"""

SERVICE = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: things-service
  description: SECRET-INTERNAL-MARKER service
spec:
  type: service
  lifecycle: production
  owner: team-a
  providesApis: [public-api, secret-internal-api]
"""


STAFF_PAGE = """\
---
title: Escalation
---

# Escalation

## Who

The SECRET-INTERNAL-MARKER escalation list.
"""


def small_repo(root: Path) -> Path:
    write_files(
        root,
        {
            "mkdocs.yml": MKDOCS,
            "docs/internal/runbook.md": INTERNAL_PAGE,
            "docs/ops/escalation.md": STAFF_PAGE,
            "docs/guides/partners/start.md": PARTNER_PAGE,
            "catalog/team.yaml": GROUP_A,
            "catalog/public-api.yaml": PUBLIC_API,
            "catalog/internal-api.yaml": INTERNAL_API,
            "catalog/service.yaml": SERVICE,
        },
    )
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return small_repo(tmp_path / "repo")
