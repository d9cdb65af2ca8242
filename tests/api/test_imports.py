"""POST /labels/import, labelling a paper the service does not have, GET /seed/author and the
pages that use them, over HTTP against the stand-in."""

from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy import func, select

from app.main import create_app
from app.store.schema import DEFAULT_TOPIC_ID, Label, Paper
from tests.factories import local_client
from tests.label_import.conftest import IMPORTS


def _counts(sessions) -> tuple[int, int]:
    with sessions() as session:
        return (
            session.scalar(select(func.count(Paper.id))) or 0,
            session.scalar(select(func.count(Label.paper_id))) or 0,
        )


def test_an_uploaded_bibtex_file_is_imported_and_reported(client, sessions):
    with (IMPORTS / "papers.bib").open("rb") as handle:
        answer = client.post("/labels/import", files={"file": ("papers.bib", handle)})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["source"], report["format"], report["read"]) == ("papers.bib", "bibtex", 9)
    assert (report["new_labels"], len(report["fetched"]), report["already_stored"]) == (7, 7, [])
    assert [(s["where"], s["what"].split()[0]) for s in report["skipped"]] == [
        ("line 65", "lecun1998gradient"),
        ("line 76", "dupont2019hal"),
    ]
    assert report["summary"][0] == (
        "9 entries (BibTeX): 7 new labels, 0 changed, 0 unchanged; 7 fetched from arXiv"
    )
    assert _counts(sessions) == (7, 7)


def test_pasted_ids_and_a_text_body_are_imported_too(client, sessions):
    pasted = client.post("/labels/import", data={"text": "2503.13531\narXiv:2503.16048v1\n"})
    assert pasted.status_code == 200, pasted.text
    assert (pasted.json()["source"], pasted.json()["fetched"]) == (
        "pasted text",
        ["2503.13531", "2503.16048"],
    )
    body = client.post(
        "/labels/import",
        content=(IMPORTS / "zotero.ris").read_bytes(),
        headers={"Content-Type": "text/plain; charset=utf-8"},
        params={"format": "ris"},
    )
    assert body.status_code == 200, body.text
    assert (body.json()["format"], body.json()["already_stored"]) == ("ris", ["2503.16048"])
    with sessions() as session:
        assert session.get_one(Label, (DEFAULT_TOPIC_ID, "2503.13531")).source == "import"


def test_a_malformed_upload_is_422_naming_the_line_and_stores_nothing(client, sessions, standin):
    answer = client.post(
        "/labels/import", files={"file": ("mine.txt", b"2503.13531\n\nnot an id\n")}
    )
    assert answer.status_code == 422
    [error] = answer.json()["detail"]
    assert error["loc"] == ["body", "file"]
    assert error["msg"].startswith("mine.txt line 3: 'not an id' is not an arXiv id or arXiv URL")
    assert _counts(sessions) == (0, 0) and standin.requests == []
    empty = client.post("/labels/import")
    assert empty.status_code == 422 and "expected a file" in empty.json()["detail"][0]["msg"]
    csv = client.post("/labels/import", files={"file": ("l.csv", b"paper_id,interest\nx,1\n")})
    assert csv.status_code == 422 and "l.csv: 1 paper_id values are not arXiv ids" in csv.text


def test_an_unreachable_arxiv_is_503_and_stores_nothing(settings, sessions):
    offline = settings.model_copy(update={"arxiv_api_url": "http://127.0.0.1:9/api/query"})
    with local_client(create_app(offline)) as client:
        answer = client.post("/labels/import", data={"text": "2503.13531\n"})
        assert answer.status_code == 503
        assert answer.json()["detail"].startswith(
            "nothing imported: arXiv is unreachable at http://127.0.0.1:9/api/query"
        )
        label = client.post("/papers/2503.13531/label", json={"interest": 1})
        assert label.status_code == 503 and "could not be fetched from arXiv" in label.text
    assert _counts(sessions) == (0, 0)


def test_imports_are_writes(settings, sessions):
    guarded = settings.model_copy(update={"api_token": SecretStr("s3cret")})
    with local_client(create_app(guarded)) as client:
        refused = client.post("/labels/import", data={"text": "2503.13531\n"})
        assert refused.status_code == 401
        cross = client.post(
            "/labels/import",
            data={"text": "2503.13531\n"},
            headers={"Authorization": "Bearer s3cret", "Sec-Fetch-Site": "cross-site"},
        )
        assert cross.status_code == 403
        assert _counts(sessions) == (0, 0)
        ok = client.post(
            "/labels/import",
            data={"text": "2503.13531\n"},
            headers={"Authorization": "Bearer s3cret"},
        )
        assert ok.status_code == 200


def test_labelling_a_paper_that_is_not_stored_fetches_it(client, sessions):
    answer = client.post("/papers/2503.16048v1/label", json={"interest": 1})
    assert answer.json() == {"paper_id": "2503.16048", "interest": 1}
    paper = client.get("/papers/2503.16048").json()
    assert (paper["label"], paper["version"]) == (1, 1)
    assert paper["title"] == "Meta-Learning Neural Mechanisms rather than Bayesian Priors"
    unknown = client.post("/papers/9999.99999/label", json={"interest": 1})
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "arXiv does not know paper 9999.99999"
    assert _counts(sessions) == (1, 1)


def test_an_author_s_papers_to_tick(client, standin):
    theirs = sorted(
        (e for e in standin.catalog.entries.values() if "Jiachen Li" in e.authors),
        key=lambda e: e.published,
        reverse=True,
    )
    client.post(f"/papers/{theirs[0].id}/label", json={"interest": 1})
    answer = client.get("/seed/author", params={"name": "Jiachen Li"})
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["query"] == 'au:"Jiachen Li"'
    assert [(p["id"], p["stored"], p["label"]) for p in found["papers"]] == [
        (theirs[0].id, True, 1),
        (theirs[1].id, False, None),
        (theirs[2].id, False, None),
    ]
    assert (
        client.get("/seed/author", params={"name": "Jiachen Li", "limit": 1}).json()["papers"][0][
            "id"
        ]
        == theirs[0].id
    )
    bad = client.get("/seed/author", params={"name": '"-"'})
    assert bad.status_code == 422 and "needs letters" in bad.json()["detail"][0]["msg"]


def test_the_pages_offer_the_import_and_the_author_search(client, standin):
    index = client.get("/").text
    assert 'id="import-form"' in index and 'href="/seed"' in index
    assert "Paste arXiv ids or URLs, or upload a BibTeX / Zotero / CSV file" in index
    page = client.get("/seed", params={"name": "Jiachen Li"})
    assert page.status_code == 200
    theirs = [e.id for e in standin.catalog.entries.values() if "Jiachen Li" in e.authors]
    for paper_id in theirs:
        assert f'value="{paper_id}"' in page.text
    assert "3 papers on arXiv for" in page.text and 'id="seed-form"' in page.text
    nobody = client.get("/seed", params={"name": "Nobody Atall"})
    assert "arXiv lists no papers for <strong>Nobody Atall</strong>" in nobody.text
    assert client.get("/seed").status_code == 200


def test_an_uploaded_labelled_csv_imports_as_before_and_its_errors_name_the_upload(
    client, sessions, standin
):
    from tests.conftest import LABELS_CSV

    answer = client.post("/labels/import", files={"file": ("labels.csv", LABELS_CSV.read_bytes())})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["added"], answer.json()["new_labels"]) == (300, 300)
    assert standin.requests == []
    broken = LABELS_CSV.read_text().replace(",1\n", ",maybe\n", 1)
    refused = client.post("/labels/import", files={"file": ("mine.csv", broken.encode())})
    assert refused.status_code == 422
    message = refused.json()["detail"][0]["msg"]
    assert message.startswith("mine.csv: interest must be 0 or 1") and "/tmp" not in message
