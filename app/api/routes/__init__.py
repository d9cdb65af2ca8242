"""The JSON API's routers, in the order they are matched."""

from __future__ import annotations

from app.api.routes import docs, labels, models, papers, recommendations, score, search, system

# Label and search routes first: /papers/{id}/label and /papers/{id}/similar must not be taken
# for a paper id.
ROUTERS = [
    labels.router,
    search.router,
    recommendations.router,
    score.router,
    papers.router,
    models.router,
    system.router,
    docs.router,
]
