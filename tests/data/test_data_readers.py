"""Readers: errors point at FILE:LINE, skip mode counts, CRLF / quoted newlines / BOM / NBSP, real slices."""

import itertools

import pytest

from attnlab.data.readers import read_csv, read_parallel, read_text, read_tsv_pairs
from attnlab.errors import UserError


def _write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def _head(path, n):
    with open(path, "rb") as f:
        return b"".join(itertools.islice(f, n))


def test_tsv_pairs_nbsp_third_column_and_blank_lines(tmp_path):
    p = _write(tmp_path / "x.txt", "Go.\tVa\u00a0!\n Hi. \tSalut\u202f!\tCC-BY 2.0 (France) Attribution\n\n")
    res = read_tsv_pairs(p)
    assert res.rows == [("Go.", "Va !"), ("Hi.", "Salut !")]
    assert res.skipped == 0


def test_tsv_malformed_line_points_at_it(tmp_path):
    p = _write(tmp_path / "x.txt", "a\tb\nno tab here\nc\t \nd\te\n")
    with pytest.raises(UserError, match=r"x\.txt:2: expected 2 tab-separated fields.*on_error='skip'"):
        read_tsv_pairs(p)
    res = read_tsv_pairs(p, on_error="skip")
    assert res.rows == [("a", "b"), ("d", "e")] and res.skipped == 2


def test_parallel(tmp_path):
    en = _write(tmp_path / "t.en", "A dog.\nTwo cats.\n")
    de = _write(tmp_path / "t.de", "Ein Hund.\nZwei Katzen.\n")
    assert read_parallel(en, de).rows == [("A dog.", "Ein Hund."), ("Two cats.", "Zwei Katzen.")]
    short = _write(tmp_path / "s.de", "Ein Hund.\n")
    with pytest.raises(UserError, match="2 lines but .*s.de has 1"):
        read_parallel(en, short)
    gap = _write(tmp_path / "g.de", "Ein Hund.\n \n")
    with pytest.raises(UserError, match=r"g\.de:2: empty line"):
        read_parallel(en, gap)
    assert read_parallel(en, gap, on_error="skip") == ([("A dog.", "Ein Hund.")], 1)


def test_csv_crlf_quotes_bom_and_label_with_spaces(tmp_path):
    text = '\ufeffQ,A,label\r\n12시 땡!,"하루가, 또 가네요.",0\r\n여지를 준 짝녀 버려야겠죠.,"두 줄\r\n답",2   \r\n'
    p = _write(tmp_path / "c.csv", text)
    res = read_csv(p, ["label", "Q"])
    assert res.rows == [("0", "12시 땡!"), ("2", "여지를 준 짝녀 버려야겠죠.")]
    assert read_csv(p, ["A"]).rows[1] == ("두 줄\r\n답",)


def test_csv_errors(tmp_path):
    p = _write(tmp_path / "c.csv", 'Q,A,label\nq1,a1,0\nq2,a2\n"q3\nstill q3",,1\nq4,a4,1,extra\nq5,a5,2\n')
    with pytest.raises(UserError, match=r"c\.csv:3: expected 3 fields, found 2"):
        read_csv(p, ["Q", "A", "label"])
    res = read_csv(p, ["Q", "A", "label"], on_error="skip")
    assert res.rows == [("q1", "a1", "0"), ("q5", "a5", "2")] and res.skipped == 3
    with pytest.raises(UserError, match=r"c\.csv:4: empty value in column A"):
        read_csv(_write(tmp_path / "c.csv", 'Q,A,label\nq1,a1,0\nq2,a2,1\n"q3\nstill q3",,1\n'), ["Q", "A"])
    with pytest.raises(UserError, match="missing column.*review.*c.csv|c.csv.*missing column.*review"):
        read_csv(p, ["review", "Q"])


def test_missing_empty_and_undecodable(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        read_text(tmp_path / "nope.txt")
    with pytest.raises(UserError, match="empty"):
        read_tsv_pairs(_write(tmp_path / "e.txt", "\n\n"))
    bad = _write(tmp_path / "l1.txt", "caf\u00e9 ok\n", encoding="latin-1")
    with pytest.raises(UserError, match=r"l1\.txt: not valid UTF-8 at byte offset 3.*re-encode"):
        read_text(bad)
    assert read_text(_write(tmp_path / "bom.txt", "\ufeffhi")) == "hi"


def test_real_slices(data_root, tmp_path):
    spa = read_tsv_pairs(_write(tmp_path / "spa.txt", _head(data_root / "spa-eng/spa.txt", 300)))
    assert len(spa.rows) == 300 and spa.rows[0] == ("Go.", "Ve.")
    fra = read_tsv_pairs(_write(tmp_path / "fra.txt", _head(data_root / "fra-eng/fra.txt", 400)))
    assert fra.rows[0] == ("Go.", "Va !")
    assert not any("\u00a0" in f or "\u202f" in f for pair in fra.rows for f in pair)
    ko = read_csv(
        _write(tmp_path / "ko.csv", _head(data_root / "chatbot-ko/ChatbotData.csv", 301)), ["Q", "A", "label"]
    )
    assert len(ko.rows) == 300 and ko.rows[0] == ("12시 땡!", "하루가 또 가네요.", "0")
    assert {r[2] for r in ko.rows} <= {"0", "1", "2"}
    imdb = read_csv(
        _write(tmp_path / "imdb.csv", _head(data_root / "imdb/train.csv", 201)), ["review", "sentiment"]
    )
    assert len(imdb.rows) == 200 and {s for _, s in imdb.rows} == {"negative"}
    m = read_parallel(
        _write(tmp_path / "m.en", _head(data_root / "multi30k/train.en", 250)),
        _write(tmp_path / "m.de", _head(data_root / "multi30k/train.de", 250)),
    )
    assert len(m.rows) == 250 and m.rows[0][1].startswith("Zwei junge weiße Männer")


def test_real_chatbot_label_with_spaces(data_root):
    rows = read_csv(data_root / "chatbot-ko/ChatbotData.csv", ["Q", "A", "label"]).rows
    assert len(rows) == 11323
    odd = [r for r in rows if r[0] == "여지를 준 짝녀 버려야겠죠."]
    assert odd and odd[0][2] == "2"
    assert {r[2] for r in rows} == {"0", "1", "2"}
