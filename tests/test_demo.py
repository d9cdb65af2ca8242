from __future__ import annotations

from app.demo import LISTINGS, prepare_demo
from app.demo.standin import listing_files
from app.main import create_app
from tests.factories import local_client


def test_the_demo_brings_up_real_recommendations_offline(settings):
    report = prepare_demo(settings)
    assert report.labels == 400
    assert [r.status for r in report.days] == ["success"] * len(listing_files(LISTINGS))
    assert all(r.fetched > 0 and r.scored == r.fetched for r in report.days)
    assert report.test_average_precision is not None
    with local_client(create_app(settings)) as client:
        body = client.get("/recommendations").json()
        assert body["date"] == report.days[-1].day.isoformat()
        assert body["model"]["name"] == "demo-tfidf" and body["recommended"] > 0
        page = client.get("/").text
        assert "demo-tfidf" in page and "Getting started" not in page
    again = prepare_demo(settings)  # running the demo twice is safe
    assert sum(r.new for r in again.days) == 0
