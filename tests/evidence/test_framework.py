"""The evidence framework: every registered experiment is complete, `list` names them, unknown names are a
one-line error, and the report renders what the experiments wrote (and lists what has not run)."""

import json

import pytest

from attnlab import evidence
from attnlab.errors import UserError
from attnlab.evidence import report
from tests.e2e.conftest import assert_user_error


@pytest.mark.parametrize("name", evidence.NAMES)
def test_every_experiment_defines_the_contract(name):
    module = evidence.experiment(name)
    assert module.TITLE and module.CLAIM
    assert callable(module.run) and callable(module.reading)


def test_unknown_experiment_is_a_user_error():
    with pytest.raises(UserError, match="attnlab evidence list"):
        evidence.experiment("attention-vs-lenght")


def test_cli_list_and_unknown_name(cli):
    proc = cli("evidence", "list")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [line.split()[0] for line in proc.stdout.splitlines()] == list(evidence.NAMES)
    assert_user_error(cli("evidence", "nope"), "unknown experiment")


def test_report_shows_each_recorded_experiment_and_lists_the_rest(tmp_path):
    out = tmp_path / "evidence"
    out.mkdir()
    record = {"name": "scaling", "title": "T", "claim": "C", "quick": True, "seconds": 1.0, "date": "d",
              "machine": "m", "figure": "scaling.png", "numbers": {}, "reading": "R-scaling"}  # fmt: skip
    (out / "scaling.json").write_text(json.dumps(record))
    (out / "scaling-gradient.png").write_bytes(b"")  # a second panel of the same experiment
    page = report.main([str(out)])
    text = page.read_text()
    assert "R-scaling" in text and "(evidence/scaling.png)" in text and "quick version" in text
    assert text.index("(evidence/scaling.png)") < text.index("(evidence/scaling-gradient.png)")
    assert f"Recorded runs: 1 of {len(evidence.NAMES)}" in text
    missing = text.split("## Not yet run", 1)[1]
    assert "`attnlab evidence scaling`" not in missing
    assert all(f"`attnlab evidence {n}`" in missing for n in evidence.NAMES if n != "scaling")
