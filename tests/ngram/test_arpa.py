"""ARPA export, cross-checked by an independent implementation: KenLM scores the exported file, and every
sentence's log10 probability must equal attnlab's own (natural log / ln 10).

Data: the first 60,000 characters of nietzsche through attnlab's data layer (`load_text`, the word
tokenizer, the n-gram task's sentence split); the last 60 sentences are held out. `min_count=2` makes rare
training words `<unk>` (so `<unk>` is a trained token with its own n-grams, and MLE gives finite
probability to held-out sentences with new words); `min_count=1` leaves `<unk>` unseen in training.
"""

import math
import os
import subprocess
import sys
from pathlib import Path

import kenlm
import numpy as np
import pytest

from attnlab.data.corpora import load_text
from attnlab.data.text import WordTokenizer
from attnlab.errors import UserError
from attnlab.ngram import NGramLM, write_arpa
from attnlab.ngram.arpa import LOG0, arpa_text
from attnlab.tasks.lm import segments

REPO = Path(__file__).resolve().parents[2]
LN10 = math.log(10)
TOL = 1e-4  # log10, per token and per sentence
OOV = "qxzvunseen"  # not a word of the corpus slice (checked below)
ARPA_SMOOTHINGS = ["kneser-ney", "modified-kneser-ney", "katz", "mle", "add-k"]
CASES = [
    (smoothing, order, min_count)
    for smoothing in ARPA_SMOOTHINGS
    for order in (1, 2, 3, 4)
    for min_count in ((2,) if smoothing == "mle" else (1, 2))  # MLE: P(<unk>) = 0 unless <unk> is trained
]


@pytest.fixture(scope="module")
def corpus(data_root):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ATTNLAB_DATA", str(data_root))
        text = load_text("nietzsche")[:60_000]
    tok = WordTokenizer(lowercase=True)
    sents = [t for t in (tok.tokenize(s) for s in segments(text, "sentence")) if t]
    assert len(sents) > 200
    return sents[:-60], sents[-60:]


def fit(smoothing, order, min_count, train):
    return NGramLM(order, smoothing, k=0.1, min_count=min_count).fit(train)


def load_kenlm(lm, tmp_path) -> kenlm.Model:
    path = tmp_path / f"{lm.smoothing}-{lm.order}.arpa"
    write_arpa(lm, path)
    return kenlm.Model(str(path))


def compare(lm, km, sentence: list[str]) -> None:
    """Per token and per sentence: KenLM's log10 probabilities against attnlab's factors."""
    res = lm.score_sentence(sentence)
    ours = [math.log10(f.prob) for f in res.factors]
    theirs = list(km.full_scores(" ".join(sentence), bos=True, eos=True))
    assert len(theirs) == len(ours) == len(sentence) + 1
    for i, (o, (p, _, _)) in enumerate(zip(ours, theirs, strict=True)):
        assert p == pytest.approx(o, abs=TOL), f"token {i} ({res.factors[i]}) of {' '.join(sentence)!r}"
    total = res.log_prob / LN10
    assert sum(p for p, _, _ in theirs) == pytest.approx(total, abs=TOL)
    # `Model.score` adds the same values in a C float: each of the len+1 additions may round by half a
    # float32 ulp of the running total (|partial sums| <= |total|), on top of the tolerance.
    f32 = (len(sentence) + 1) * abs(total) * 2.0**-24
    assert km.score(" ".join(sentence), bos=True, eos=True) == pytest.approx(total, abs=TOL + f32)


def finite(lm, sentences):
    return [s for s in sentences if math.isfinite(lm.score_sentence(s).log_prob)]


@pytest.mark.parametrize("smoothing, order, min_count", CASES)
def test_kenlm_scores_held_out_sentences_like_attnlab(corpus, tmp_path, smoothing, order, min_count):
    train, held_out = corpus
    lm = fit(smoothing, order, min_count, train)
    km = load_kenlm(lm, tmp_path)
    # Order 1 is written as an order-2 file with no bigrams (KenLM's minimum order).
    assert km.order == max(order, 2)
    usable = finite(lm, held_out)
    if smoothing != "mle":
        assert len(usable) == len(held_out)  # smoothed: every sentence has finite probability
    assert usable, "no held-out sentence has finite probability: nothing would be compared"
    for s in usable + train[:20]:
        compare(lm, km, s)
    # The held-out sentences compared include words the model has never seen, scored as <unk> by both.
    oov = [w for s in usable for w in s if w not in lm.vocab]
    assert oov and all(w not in km for w in oov)


@pytest.mark.parametrize("smoothing, min_count", sorted({(s, m) for s, _, m in CASES}))
def test_out_of_vocabulary_word_is_unk_in_both(corpus, tmp_path, smoothing, min_count):
    """A held-out sentence with an unknown word (replaced by one surely unknown), and that word inserted
    at the start, in the middle, at the end, alone: both map it to <unk> and score it alike."""
    train, held_out = corpus
    lm = fit(smoothing, 3, min_count, train)
    km = load_kenlm(lm, tmp_path)
    assert OOV not in lm.vocab and OOV not in km
    with_oov = [s for s in finite(lm, held_out) if any(w not in lm.vocab for w in s)]
    assert with_oov
    base = min(with_oov, key=len)
    i = next(i for i, w in enumerate(base) if w not in lm.vocab)
    variants = [[*base[:i], OOV, *base[i + 1 :]]]
    if smoothing != "mle":  # MLE: an <unk> in a new place has probability 0
        variants += [[OOV, *base], [*base[:2], OOV, *base[2:]], [*base, OOV], [OOV]]
    for s in variants:
        assert math.isfinite(lm.score_sentence(s).log_prob)
        compare(lm, km, s)
        flags = [oov for _, _, oov in km.full_scores(" ".join(s), bos=True, eos=True)]
        assert flags == [w not in lm.vocab for w in s] + [False]  # KenLM's <unk> = attnlab's <unk>


def test_the_comparison_tells_models_apart(corpus, tmp_path):
    """A control: the check would fail for a file of a slightly different model (discount 0.75 vs 0.7)."""
    train, held_out = corpus
    km = load_kenlm(NGramLM(3, "kneser-ney", discount=0.75).fit(train), tmp_path)
    other = NGramLM(3, "kneser-ney", discount=0.7).fit(train)
    gaps = [abs(km.score(" ".join(s)) - other.score_sentence(s).log_prob / LN10) for s in held_out]
    assert max(gaps) > 100 * TOL


def parse_arpa(text: str) -> dict[int, dict[tuple[str, ...], tuple[float, float | None]]]:
    lines = text.splitlines()
    assert lines[0] == "\\data\\" and lines[-1] == "\\end\\"
    declared = {int(ln[6:].split("=")[0]): int(ln.split("=")[1]) for ln in lines if ln.startswith("ngram ")}
    sections: dict[int, dict] = {}
    cur = None
    for ln in lines[1:-1]:
        if ln.startswith("\\") and ln.endswith("-grams:"):
            cur = sections.setdefault(int(ln[1:].split("-")[0]), {})
        elif cur is not None and ln:
            fields = ln.split("\t")
            gram = tuple(fields[1].split(" "))
            assert gram not in cur, f"duplicate n-gram {gram}"
            cur[gram] = (float(fields[0]), float(fields[2]) if len(fields) == 3 else None)
    assert {m: len(v) for m, v in sections.items()} == declared
    return sections


@pytest.mark.parametrize("smoothing", ARPA_SMOOTHINGS)
def test_file_structure(corpus, smoothing):
    """What KenLM does not check: counts match the header, every n-gram's suffix and prefix are listed (a
    reader's look-up stops at the first gap), probabilities are <= 1, the highest order has no back-off
    weight, <s> is never predicted and </s> never a context, every predictable token is a unigram."""
    train, _ = corpus
    lm = fit(smoothing, 4, 2, train)
    text, sizes = arpa_text(lm)
    sec = parse_arpa(text)
    assert sizes == [len(sec[m]) for m in sorted(sec)]
    assert set(sec[1]) == {(t,) for t in lm.vocab.tokens if t != "<pad>"}
    assert sec[1][("<s>",)][0] == LOG0
    for m, grams in sec.items():
        for gram, (lp, bow) in grams.items():
            assert lp <= 0
            assert "<s>" not in gram[1:] and "</s>" not in gram[:-1]
            if m > 1:
                assert gram[1:] in sec[m - 1] and gram[:-1] in sec[m - 1], gram
            if m == 4 or gram[-1] == "</s>":
                assert bow is None


def test_unrepresentable_models_raise_user_error(corpus, tmp_path):
    train, _ = corpus
    target = tmp_path / "model.arpa"
    target.write_text("keep me\n")
    with pytest.raises(UserError, match="stupid-backoff cannot be written as ARPA: its scores are not"):
        write_arpa(NGramLM(3, "stupid-backoff").fit(train), target)
    chars = NGramLM(2, "kneser-ney").fit([list(" ".join(s)) for s in train[:50]])
    with pytest.raises(UserError, match="ARPA separates tokens by whitespace") as err:
        write_arpa(chars, target)
    assert "\n" not in str(err.value)
    odd = NGramLM(2, "kneser-ney").fit(train)
    odd.smoothing = "witten-bell"  # any smoothing the writer does not know
    with pytest.raises(UserError, match="witten-bell has no exact ARPA form"):
        write_arpa(odd, target)
    assert target.read_text() == "keep me\n"  # refused before writing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.arpa"]  # and no temporary file left


# -- CLI ----------------------------------------------------------------------------------------------
def attnlab(*args, cwd, data_root):
    exe = Path(sys.executable).with_name("attnlab")  # the installed console script of this environment
    env = {**os.environ, "ATTNLAB_DATA": str(data_root), "OMP_NUM_THREADS": "1"}
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)  # fmt: skip


@pytest.fixture(scope="module")
def kn_run(tmp_path_factory, data_root):
    root = tmp_path_factory.mktemp("arpa-cli")
    recipe = REPO / "recipes" / "ngram-nietzsche-kn3.yaml"
    res = attnlab("train", recipe, "--out", "runs/kn3", "--set", "data.limit_chars=40000", cwd=root,
                  data_root=data_root)  # fmt: skip
    assert res.returncode == 0, res.stderr
    return root, root / "runs" / "kn3"


def test_cli_export_writes_a_file_kenlm_loads(kn_run, data_root):
    root, run = kn_run
    res = attnlab("export", run, "--arpa", "out/kn3.arpa", cwd=root, data_root=data_root)
    assert res.returncode == 0, res.stderr
    assert "wrote out/kn3.arpa" in res.stdout and "3-grams" in res.stdout
    km = kenlm.Model(str(root / "out" / "kn3.arpa"))
    assert km.order == 3
    lm = NGramLM.load(run / "ngram.json")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ATTNLAB_DATA", str(data_root))
        text = load_text("nietzsche")[40_000:48_000]  # past the run's limit_chars: unseen text
    sents = [t for t in (WordTokenizer(lowercase=True).tokenize(s) for s in segments(text, "sentence")) if t]
    for s in sents[:30]:
        compare(lm, km, s)


def one_error_line(res) -> str:
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    return lines[0]


def test_cli_export_misuse_is_one_error_line(kn_run, data_root, tmp_path):
    root, run = kn_run
    assert "does not exist" in one_error_line(
        attnlab("export", tmp_path / "no-such-run", "--arpa", "x.arpa", cwd=tmp_path, data_root=data_root)
    )
    neural = tmp_path / "lstm-run"
    neural.mkdir()
    (neural / "config.yaml").write_text("task: lm\ndata:\n  dataset: nietzsche\nmodel:\n  arch: lstm\n")
    line = one_error_line(attnlab("export", neural, "--arpa", "x.arpa", cwd=tmp_path, data_root=data_root))
    assert "model.arch lstm" in line and "n-gram" in line
    line = one_error_line(attnlab("export", run, cwd=tmp_path, data_root=data_root))
    assert "--arpa" in line
    assert not (tmp_path / "x.arpa").exists()


def test_cli_export_refuses_stupid_backoff(data_root, tmp_path):
    recipe = REPO / "recipes" / "ngram-nietzsche-kn3.yaml"
    res = attnlab("train", recipe, "--out", "sb", "--set", "data.limit_chars=20000",
                  "--set", "model.smoothing=stupid-backoff", cwd=tmp_path, data_root=data_root)  # fmt: skip
    assert res.returncode == 0, res.stderr
    line = one_error_line(attnlab("export", "sb", "--arpa", "sb.arpa", cwd=tmp_path, data_root=data_root))
    assert "stupid-backoff cannot be written as ARPA" in line
    assert not (tmp_path / "sb.arpa").exists()


def test_write_is_atomic_and_replaces(corpus, tmp_path):
    train, _ = corpus
    target = tmp_path / "m.arpa"
    target.write_text("old\n")
    sizes = write_arpa(NGramLM(2, "katz").fit(train), target)
    assert target.read_text().startswith("\\data\\\nngram 1=") and len(sizes) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.arpa"]
    assert np.isfinite(kenlm.Model(str(target)).score("the will to power"))
