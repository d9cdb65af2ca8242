"""The JSON API's routers, in the order they are matched."""

from __future__ import annotations

from app.api.routes import (
    categories,
    docs,
    imports,
    labels,
    models,
    onboarding,
    papers,
    readers,
    recommendations,
    score,
    search,
    system,
    topics,
)

# Label and search routes first: /papers/{id}/label and /papers/{id}/similar must not be taken
# for a paper id.
ROUTERS = [
    labels.router,
    imports.router,
    search.router,
    recommendations.router,
    score.router,
    papers.router,
    models.router,
    system.router,
    categories.router,
    onboarding.router,
    topics.router,
    readers.router,
    docs.router,
]
