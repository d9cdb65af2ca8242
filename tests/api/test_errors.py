"""Bad input is a 422 in one shape, before anything else; every other error is declared."""

from __future__ import annotations

import pytest

from app.api.deps import MAX_ROW_ID
from app.main import create_app


def _validation_errors(response):
    """The 422 body's list, checked against the schema OpenAPI gives for it."""
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert isinstance(errors, list) and errors
    for error in errors:
        assert isinstance(error["loc"], list) and isinstance(error["msg"], str)
        assert isinstance(error["type"], str)
    return errors


@pytest.mark.parametrize(
    "body",
    [
        '{"abstract": NaN}',
        '{"abstract": "ok", "title": Infinity}',
        '[{"abstract": -Infinity}]',
        '{"abstract": 1e999}',
        '{"abstract": ' + "9" * 5000 + "}",
        "[" * 100_000 + "]" * 100_000,
        b'{"abstract": "caf\xe9"}',  # Latin-1, not UTF-8
    ],
    ids=["nan", "infinity", "minus-infinity", "overflow", "long-int", "deep", "latin-1"],
)
def test_a_body_that_is_not_json_as_rfc_8259_has_it_is_422(client, body):
    response = client.post("/score", content=body, headers={"content-type": "application/json"})
    (error,) = _validation_errors(response)
    assert error["type"] == "json_invalid" and error["loc"][0] == "body"


def test_nan_in_a_label_body_is_422_naming_it(client, day_ids):
    response = client.post(
        f"/papers/{day_ids[0]}/label",
        content='{"interest": NaN}',
        headers={"content-type": "application/json"},
    )
    (error,) = _validation_errors(response)
    assert "NaN" in error["ctx"]["error"]


@pytest.mark.parametrize(
    "body",
    [{"abstract": 5}, {"title": "no abstract"}, {"abstract": "   "}, [], "an abstract"],
)
def test_bad_score_input_is_422_even_without_a_model(client, body):
    _validation_errors(client.post("/score", json=body))


@pytest.mark.parametrize(
    ("body", "error_type", "loc"),
    [
        ({"title": "no abstract"}, "missing", ["body", "abstract"]),
        ({"abstract": 5}, "string_type", ["body", "abstract"]),
        ([{"abstract": "ok"}, {"title": "x"}], "missing", ["body", 1, "abstract"]),
        ({"abstract": "ok", "extra": 1}, "extra_forbidden", ["body", "extra"]),
        ("an abstract", "model_attributes_type", ["body"]),
    ],
)
def test_a_score_body_is_refused_once_for_what_it_lacks(client, body, error_type, loc):
    """A missing abstract was refused twice, once as a paper and once as 'Input should be a
    valid list' (issue 17): the body's shape says which of the two it is."""
    (error,) = _validation_errors(client.post("/score", json=body))
    assert (error["type"], error["loc"]) == (error_type, loc)


def test_good_score_input_without_a_model_is_503(client):
    response = client.post("/score", json={"abstract": "Graphs."})
    assert response.status_code == 503 and "arxiv-reco train" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ([], ["body"]),
        ([{"abstract": "ok"}] * 65, ["body"]),
        ({"abstract": " "}, ["body", "abstract"]),
        ([{"abstract": "ok"}, {"abstract": ""}], ["body", 1, "abstract"]),
        ({"abstract": "x" * 20_001}, ["body"]),
        ([{"abstract": "ok"}, {"abstract": "x" * 20_001}], ["body", 1]),
    ],
)
def test_the_routes_own_checks_answer_in_the_validation_error_shape(client, body, loc):
    (error,) = _validation_errors(client.post("/score", json=body))
    assert error["loc"] == loc and error["type"] == "value_error"


def test_a_day_that_is_not_in_the_calendar_is_a_validation_error(client):
    (error,) = _validation_errors(client.get("/recommendations", params={"date": "2025-02-30"}))
    assert error["loc"] == ["query", "date"] and "2025-02-30" in error["msg"]


BAD_IDS = [
    "",
    "abc",
    "2503",
    "2503.117421",
    "2503.11742.1",
    "2503.11742v",
    "2503.11742V2",
    "hep-th/99",
    "hep-th/9901001/label",
    "HEP-TH/9901001",
    "..%2F..%2Fetc",
    "2503.11742%20",
]


@pytest.mark.parametrize("paper_id", BAD_IDS)
def test_a_malformed_paper_id_is_422_on_every_route_that_takes_one(client, paper_id):
    for response in (
        client.get(f"/papers/{paper_id}"),
        client.post(f"/papers/{paper_id}/label", json={"interest": 1}),
        client.delete(f"/papers/{paper_id}/label"),
    ):
        (error,) = _validation_errors(response)
        assert error["loc"] == ["path", "paper_id"], response.request.url


@pytest.mark.parametrize(
    "paper_id", ["2503.11742", "2503.11742v3", "0704.0001", "hep-th/9901001", "math.GT/0309136v2"]
)
def test_a_well_formed_id_of_a_paper_not_stored_is_404(client, paper_id):
    for response in (
        client.get(f"/papers/{paper_id}"),
        client.post(f"/papers/{paper_id}/label", json={"interest": 1}),
        client.delete(f"/papers/{paper_id}/label"),
    ):
        assert response.status_code == 404, response.request.url
        assert paper_id in response.json()["detail"]


def test_a_version_suffix_is_dropped(client, day_ids):
    labelled = client.post(f"/papers/{day_ids[0]}v7/label", json={"interest": 1})
    assert labelled.json() == {"paper_id": day_ids[0], "interest": 1}
    assert client.get(f"/papers/{day_ids[0]}v2").json()["label"] == 1
    assert client.delete(f"/papers/{day_ids[0]}v1/label").json()["interest"] is None


@pytest.mark.parametrize("version_id", [0, -1, MAX_ROW_ID + 1, 2**63, 2**64, 10**30])
def test_a_model_id_out_of_range_is_422(client, version_id):
    (error,) = _validation_errors(client.post(f"/models/{version_id}/activate"))
    assert error["loc"] == ["path", "version_id"]


def test_the_largest_model_id_is_looked_up(client):
    response = client.post(f"/models/{MAX_ROW_ID}/activate")
    assert response.status_code == 404 and "no model version" in response.json()["detail"]


DECLARED = {
    ("post", "/score"): {"401", "403", "404", "409", "413", "422", "503"},
    ("get", "/recommendations"): {"304", "401", "403", "404", "409", "422", "503"},
    ("get", "/papers/{paper_id}"): {"401", "403", "404", "422"},
    ("post", "/papers/{paper_id}/label"): {"401", "403", "404", "413", "422", "503"},
    ("delete", "/papers/{paper_id}/label"): {"401", "403", "404", "422"},
    ("post", "/models/{version_id}/activate"): {"401", "403", "404", "409", "422"},
    ("post", "/models/rollback"): {"401", "403", "404", "409", "422"},
    ("post", "/retrain"): {"401", "403", "404", "409", "422"},
    ("post", "/labels/import"): {"400", "401", "403", "404", "413", "422", "503"},
    ("get", "/seed/author"): {"401", "403", "404", "422", "503"},
    ("get", "/health"): {"503"},
}


def test_each_route_declares_the_errors_it_returns_with_the_detail_body(settings):
    schema = create_app(settings).openapi()
    for (method, path), codes in DECLARED.items():
        responses = schema["paths"][path][method]["responses"]
        assert set(responses) - {"200", "202"} == codes, (method, path)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                body = response.get("content", {}).get("application/json", {}).get("schema")
                if code.startswith(("4", "5")) and code != "422" and body is not None:
                    assert body == {"$ref": "#/components/schemas/ErrorMessage"}, (method, path)
    assert schema["components"]["schemas"]["ErrorMessage"]["required"] == ["detail"]
