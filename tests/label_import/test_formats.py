"""Reading what a reader has into arXiv ids: no database, no network."""

from __future__ import annotations

import pytest

from app.core.arxiv_ids import arxiv_id_of, find_arxiv_id
from app.label_import.formats import detect_format, read_file, read_text
from tests.label_import.conftest import IMPORTS
from training.inference.layout import DataError


@pytest.mark.parametrize(
    ("text", "paper_id"),
    [
        ("2503.11742", "2503.11742"),
        ("2503.11742v2", "2503.11742"),
        ("0704.0001", "0704.0001"),
        ("hep-th/9901001", "hep-th/9901001"),
        ("math.GT/0309136v1", "math.GT/0309136"),
        ("arXiv:2503.11742", "2503.11742"),
        ("arxiv: hep-th/9901001v3", "hep-th/9901001"),
        ("https://arxiv.org/abs/2503.11742", "2503.11742"),
        ("http://arxiv.org/abs/2503.11742v3?context=cs", "2503.11742"),
        ("https://arxiv.org/pdf/2503.11742v2.pdf", "2503.11742"),
        ("https://arxiv.org/pdf/2503.11742", "2503.11742"),
        ("https://export.arxiv.org/abs/math.GT/0309136", "math.GT/0309136"),
        ("https://arxiv.org/abs/astro-ph/0601001v1", "astro-ph/0601001"),
        ("10.48550/arXiv.2503.11742", "2503.11742"),
        ("https://doi.org/10.48550/ARXIV.2503.11742", "2503.11742"),
        ("2503.117", None),  # a spreadsheet's truncated id is no complete id
        ("2503.117420", None),
        ("2503.11742.pdf", None),
        ("https://example.org/abs/2503.11742", None),
        ("Hep-th/9901001", None),
        ("foo", None),
    ],
)
def test_an_id_or_url_alone(text, paper_id):
    assert arxiv_id_of(text) == paper_id


@pytest.mark.parametrize(
    ("text", "paper_id"),
    [
        ("arXiv preprint arXiv:1706.03762", "1706.03762"),
        ("arXiv:1706.03762 [cs]", "1706.03762"),
        ("see http://arxiv.org/abs/1706.03762.", "1706.03762"),
        ("10.48550/arXiv.1706.03762", "1706.03762"),
        ("Proceedings of the IEEE 86(11), 1998", None),
        ("report 1706.03762", None),  # a bare number in a text is not taken for an id
        ("http://notarxiv.org/abs/1706.03762", None),
    ],
)
def test_an_id_named_inside_a_text(text, paper_id):
    assert find_arxiv_id(text) == paper_id


def test_a_list_of_ids_and_urls_skips_blank_lines_and_comments():
    read = read_file(IMPORTS / "ids.txt")
    assert read.format == "ids"
    assert [(r.where, r.paper_id) for r in read.references] == [
        ("line 2", "2503.13531"),
        ("line 3", "2503.13576"),
        ("line 4", "2503.13587"),
        ("line 5", "2503.13617"),
        ("line 6", "2503.13646"),
        ("line 7", "2503.13652"),
        ("line 9", "astro-ph/0601001"),
        ("line 10", "astro-ph/0601001"),
    ]
    assert {r.interest for r in read.references} == {1}


def test_a_line_that_is_no_id_is_named():
    text = "2503.13531\n\n# mine\nfoo\n2503.13576\nhttps://example.org/x\n"
    with pytest.raises(
        DataError,
        match=r"^labels\.txt line 4: 'foo' is not an arXiv id or arXiv URL \(expected one per "
        r"line, e\.g\. .*\); also lines 6$",
    ):
        read_text(text, name="labels.txt")


@pytest.mark.parametrize(
    ("name", "text", "format"),
    [
        ("refs.txt", "@article{k, title={T}}\n", "bibtex"),
        ("export.json", '[{"title": "T"}]', "csl-json"),
        ("x", "\ufeffTY  - JOUR\r\nER  - \r\n", "ris"),
        ("labels.txt", "paper_id,interest\n2503.13531,1\n", "csv"),
        ("ids", "2503.13531\n", "ids"),
        ("refs.bib", "nothing here\n", "bibtex"),  # the extension, where the content says nothing
        ("refs.ris", "", "ris"),
    ],
)
def test_the_format_is_read_from_the_content_then_the_extension(name, text, format):
    assert detect_format(text, name=name) == format


def test_a_forced_format_reads_the_content_as_that():
    with pytest.raises(DataError, match=r"x\.bib: no entries found in this BibTeX file"):
        read_text("2503.13531\n", name="x.bib", format="bibtex")
    assert read_text("2503.13531\n", name="x.bib", format="ids").references[0].paper_id


def test_bibtex_every_form_of_an_arxiv_id_and_the_entries_without_one():
    read = read_file(IMPORTS / "papers.bib")
    assert read.format == "bibtex"
    found = {r.key: r.paper_id for r in read.references}
    assert found == {
        "kim2025contextaware": "2503.13531",  # eprint + archivePrefix (arXiv's own export)
        "li2025comprehensive": "2503.13576",  # eprint + eprinttype = {arxiv} (biblatex)
        "liang_seeing_2025": "2503.13587",  # url (Zotero)
        "li_let_2025": "2503.13617",  # the 10.48550 DOI
        "plizzari2025omnia": "2503.13646",  # journal = {arXiv preprint arXiv:...} (Scholar)
        "qraitem_web_2025": "2503.13652",  # note = {arXiv:... [cs]} (Zotero)
        "hager2025uncertainty": "2503.14749",  # howpublished
        "lecun1998gradient": None,
        "dupont2019hal": None,
    }
    skipped = {r.key: (r.title, r.why_not) for r in read.references if r.paper_id is None}
    assert (
        skipped["lecun1998gradient"][0] == "Gradient-based learning applied to document recognition"
    )
    assert skipped["lecun1998gradient"][1].startswith("no arXiv id (an eprint with archivePrefix")
    assert skipped["dupont2019hal"] == (
        "Un article déposé sur HAL",
        "eprint = {hal-02123456} without archivePrefix = {arXiv}",
    )
    assert read.references[0].where == "line 3"


def test_bibtex_old_style_eprints_duplicate_keys_and_a_broken_entry():
    text = (
        "@misc{old, title={Hot Jupiters}, eprint={0601001}, primaryClass={astro-ph},\n"
        "  archivePrefix={arXiv}}\n"
        "@misc{twice, eprint={hep-th/9901001v2}, archivePrefix={arXiv}}\n"
        "@misc{twice, eprint={2503.13531}, archivePrefix={arXiv}}\n"
        "@misc{bad, eprint={not-an-id}, archivePrefix={arXiv}}\n"
    )
    read = read_text(text, name="refs.bib")
    assert [(r.where, r.paper_id) for r in read.references] == [
        ("line 1", "astro-ph/0601001"),
        ("line 3", "hep-th/9901001"),
        ("line 4", None),
        ("line 5", None),
    ]
    assert read.references[2].why_not == (
        "a second entry with the citation key twice (the first is on line 3)"
    )
    assert read.references[3].why_not.startswith("eprint = {not-an-id} is not an arXiv id")
    broken = "@misc{a, eprint={2503.13531}, archivePrefix={arXiv}}\n\n@misc{b, title = {T},\n"
    with pytest.raises(DataError, match=r"^refs\.bib line 3: cannot read the BibTeX entry"):
        read_text(broken + "@misc{c, title={U}}\n", name="refs.bib")


def test_csl_json_from_zotero_each_field_that_names_an_arxiv_id():
    read = read_file(IMPORTS / "zotero.json")
    assert read.format == "csl-json"
    assert [(r.where, r.paper_id) for r in read.references] == [
        ("item 1", "2503.14749"),  # URL, DOI, number and note
        ("item 2", "2503.14755"),  # DOI alone
        ("item 3", "2503.14757"),  # number "arXiv:..."
        ("item 4", "2503.16048"),  # archive + archive_location
        ("item 5", "2503.16063"),  # note
        ("item 6", None),  # a book
    ]
    book = read.references[-1]
    assert (book.key, book.title) == ("", "Deep Learning")  # Zotero's item URI is no key
    assert read.references[3].key == "goodale2025metalearning"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"title": "A"},\n {"title": }]', r"^z\.json line 2: not JSON"),
        ('"a string"', r"^z\.json: expected a CSL-JSON list of items .*found a JSON str"),
        ('[{"title": "A"}, 3]', r"^z\.json item 2: expected a CSL-JSON item"),
    ],
)
def test_malformed_csl_json_is_named(text, message):
    with pytest.raises(DataError, match=message):
        read_text(text, name="z.json", format="csl-json")


def test_ris_from_zotero_and_mendeley_each_tag_that_names_an_arxiv_id():
    read = read_file(IMPORTS / "zotero.ris")
    assert read.format == "ris"
    assert [(r.where, r.paper_id, r.key) for r in read.references] == [
        ("line 1", "2503.16048", ""),  # UR, DO, N1 (Zotero)
        ("line 18", "2503.16063", ""),  # M3
        ("line 26", "2503.16071", "wei2025tuning"),  # JO "arXiv preprint arXiv:..." (Mendeley)
        ("line 35", "2503.14757", ""),  # DO in DataCite's capitals
        ("line 41", None, "vaswani2017attention"),
    ]
    assert read.references[-1].title == "Attention is all you need"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("TY  - JOUR\nTI  - A\nER  - \nTY  - JOUR\nTI  - B\n", r"^r\.ris line 4: the record "),
        ("TY  - JOUR\nTI  - A\nTY  - JOUR\nER  - \n", r"^r\.ris line 3: a new record \(TY\)"),
        ("TI  - A\nER  - \n", r"^r\.ris line 1: TI outside a record"),
        ("hello\n", r"^r\.ris line 1: 'hello' is not a RIS line"),
    ],
)
def test_malformed_ris_is_named(text, message):
    with pytest.raises(DataError, match=message):
        read_text(text, name="r.ris", format="ris")


def test_a_wrapped_ris_value_continues_the_tag_before_it():
    text = "TY  - JOUR\nTI  - A long\n  title\nN1  - see\n arXiv:2503.13531\nER  - \n"
    [reference] = read_text(text, name="r.ris").references
    assert (reference.title, reference.paper_id) == ("A long title", "2503.13531")


def test_a_csv_of_paper_id_and_interest_only():
    read = read_file(IMPORTS / "minimal.csv")
    assert (read.format, read.full_csv) == ("csv", False)
    assert [(r.where, r.paper_id, r.interest) for r in read.references] == [
        ("line 2", "2503.13531", 1),
        ("line 3", "2503.13576", 0),  # the version is dropped
        ("line 4", "2503.16048", 1),
    ]
    timed = read_text(
        "paper_id,interest,labelled_at\n2503.13531,1,2025-04-01T10:00:00+00:00\n2503.13576,0,\n",
        name="t.csv",
    )
    assert [str(r.labelled_at) for r in timed.references] == ["2025-04-01 10:00:00+00:00", "None"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("paper_id,interest\n2503.13531,1\n2503.13576,maybe\n", r"line 3 \('maybe'\)"),
        ("paper_id,interest\nfoo,1\n", r"not arXiv ids .*line 2 \('foo'\)"),
        ("paper_id,label\n2503.13531,1\n", r"\['interest'\] are missing"),
        ("paper_id,interest,labelled_at\n2503.13531,1,yesterday\n", r"line 2 \('yesterday'\)"),
    ],
)
def test_a_malformed_minimal_csv_names_the_rows(text, message):
    with pytest.raises(DataError, match=f"^m.csv: .*{message}"):
        read_text(text, name="m.csv")


def test_a_full_csv_is_left_to_the_labelled_csv_import():
    read = read_text("paper_id,title,abstract,categories,submission_date,interest\n", name="f")
    assert (read.format, read.full_csv, read.references) == ("csv", True, [])


def test_a_list_without_any_id_says_what_it_expected():
    with pytest.raises(DataError, match=r"^ids\.txt: no arXiv ids or URLs in it \(expected one a"):
        read_text("# nothing yet\n\n", name="ids.txt")
