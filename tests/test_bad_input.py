"""Bad-input fuzzing: at least 10,000 generated user mistakes through the CLI and the Python API of every
task, with zero tracebacks.

The contract under test (attnlab/errors.py, attnlab/cli/__init__.py): every user mistake is a `UserError`;
the command prints it as exactly one line `error: ...` on stderr and exits with code 2. Anything else (a
traceback, exit 1, a multi-line message) is a bug. Inputs that are odd but meaningful are accepted with exit
code 0; which ones, per verb, is written next to each strategy below.

How it stays fast (the whole file runs in about 90 s on one core):

* eight tiny runs (translation RNN + Transformer, sentiment BiLSTM-attention, bag-of-words, word2vec,
  char Transformer LM, word trigram, Korean chat) are trained once per session in-process, in seconds;
* the CLI is driven in-process through `attnlab.cli.main(argv)` (a subprocess costs about a second);
* Typer rebuilds its click command from the function signatures on every `main()` call (~70 ms) and
  `load_run` rebuilds the model (~30 ms): a real process does each once, so both are memoised while
  fuzzing text. The bad-path tests use the real, un-memoised `load_run`.

Hypothesis runs derandomized (the same examples on every machine, no example database), and each fuzz test
asserts how many inputs it actually pushed through, so the 10,000 floor holds however pytest schedules or
distributes the tests (xdist included).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attnlab.errors import UserError

REPO = Path(__file__).resolve().parents[1]
COUNTS: Counter[str] = Counter()  # category -> inputs tried in this process


def fuzz(n: int):
    """Hypothesis settings of one fuzz test: `n` examples, reproducible, no deadline (1 MB inputs)."""
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


@pytest.fixture(scope="module", autouse=True)
def _total(request):
    """After the module: the inputs tried per category (to ATTNLAB_FUZZ_REPORT as JSON when set, for
    bench/README.md), and, when every test of the module ran in this process, the 10,000 floor."""
    ran: set[str] = set()
    request.config.stash[_RAN] = ran
    started = time.perf_counter()
    yield
    report = {"total": COUNTS.total(), "seconds": round(time.perf_counter() - started, 1), **sorted_counts()}
    if os.environ.get("ATTNLAB_FUZZ_REPORT"):
        Path(os.environ["ATTNLAB_FUZZ_REPORT"]).write_text(json.dumps(report, indent=2) + "\n")
    if len(ran) == _module_tests():  # not a -k selection, nor an xdist worker's share
        assert COUNTS.total() >= 10_000, report


_RAN = pytest.StashKey[set]()


@pytest.fixture(autouse=True)
def _ran(request):
    yield
    request.config.stash[_RAN].add(request.node.nodeid)


def _module_tests() -> int:
    """How many tests this module holds (parametrized ones counted per case)."""
    n = 0
    for name, fn in globals().items():
        if name.startswith("test_") and callable(fn):
            cases = [len(m.args[1]) for m in getattr(fn, "pytestmark", []) if m.name == "parametrize"]
            n += functools.reduce(lambda a, b: a * b, cases, 1)
    return n


def sorted_counts() -> dict[str, int]:
    return dict(sorted(COUNTS.items()))


# ------------------------------------------------------------------------------------------ tiny runs

T = {"log_every": 1000, "threads": 1, "seed": 0, "device": "cpu"}
SPA = {"dataset": "spa-eng", "min_freq": 2, "max_len": 16, "limit": 1500, "valid_bleu_sentences": 10}
RECIPES = {
    "rnn": {
        "task": "translation",
        "data": SPA,
        "model": {"arch": "rnn", "hidden": 32, "embed_dim": 16, "attention": "bahdanau"},
        "train": {**T, "max_steps": 20},
    },
    "transformer": {
        "task": "translation",
        "data": SPA,
        "model": {"arch": "transformer", "d_model": 16, "layers": 2, "heads": 2, "d_ff": 32},
        "train": {**T, "max_steps": 20},
    },
    "sentiment": {
        "task": "classification",
        "data": {"limit": 300, "test_limit": 50, "max_vocab": 3000, "max_len": 60},
        "model": {"arch": "bilstm-attention", "embed_dim": 16, "hidden": 16, "attn_units": 16},
        "train": {**T, "epochs": 1, "batch_size": 32},
    },
    "bow": {
        "task": "classic",
        "data": {"limit": 600, "test_limit": 100},
        "model": {"arch": "bow", "features": "tfidf1k"},
        "train": T,
    },
    "word2vec": {
        "task": "classic",
        "data": {"limit": 300},
        "model": {"arch": "word2vec", "vector_size": 16, "epochs": 1},
        "train": T,
    },
    "char": {
        "task": "lm",
        "data": {"dataset": "tinyshakespeare", "limit_chars": 30000, "block_size": 32, "eval_tokens": 2000},
        "model": {"arch": "transformer", "d_model": 32, "heads": 2, "layers": 1},
        "train": {**T, "max_steps": 10, "batch_size": 8},
    },
    "ngram": {
        "task": "lm",
        "data": {"dataset": "nietzsche", "tokenizer": "word", "lowercase": True, "limit_chars": 50000},
        "model": {"arch": "ngram", "order": 3},
        "train": T,
    },
    "chat": {
        "task": "chat",
        "data": {"limit": 400, "subword_vocab": 600, "valid_bleu_sentences": 4},
        "model": {"arch": "transformer", "d_model": 32, "heads": 4, "d_ff": 64, "layers": 1},
        "train": {**T, "max_steps": 6, "batch_size": 32, "schedule": "noam", "warmup": 10, "lr": 1.0},
    },
}


@pytest.fixture(scope="session")
def run_dirs(tmp_path_factory, data_root) -> dict[str, Path]:
    """Every tiny run, trained once per session (about 8 s in all on one core)."""
    from attnlab import runs
    from attnlab.recipe import build_recipe

    os.environ.setdefault("ATTNLAB_DATA", str(data_root))
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("bad-input")
    out = {}
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for name, raw in RECIPES.items():
            runs.train(build_recipe(raw), base / name, progress=False)
            out[name] = base / name
    return out


@pytest.fixture(scope="session")
def loaded(run_dirs):
    """name -> attnlab.runs.Run, each loaded once (the API fuzz calls the tasks directly)."""
    from attnlab.runs import load_run

    return {name: load_run(path) for name, path in run_dirs.items()}


@pytest.fixture(scope="module")
def fast_cli(run_dirs, loaded):
    """Memoise Typer's command and the fixture runs' `load_run` (see the module docstring); undone after
    this module, so no other test sees it."""
    import typer.main

    import attnlab.evaluate
    import attnlab.runs

    real_load = attnlab.runs.load_run
    by_path = {str(path): loaded[name] for name, path in run_dirs.items()}

    def load_run(path, *, which="best", with_data=False, device="cpu"):
        run = by_path.get(str(path))
        if run is None or with_data or which != "best" or device != "cpu":
            return real_load(path, which=which, with_data=with_data, device=device)
        return run

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(typer.main, "get_command", functools.lru_cache(maxsize=None)(typer.main.get_command))
        mp.setattr(attnlab.runs, "load_run", load_run)
        mp.setattr(attnlab.evaluate, "load_run", load_run)
        yield


# ------------------------------------------------------------------------------------------ the CLI


@dataclass
class Result:
    code: int
    out: str
    err: str


class _Tty(io.TextIOWrapper):
    """A terminal on stdin: what `attnlab chat` reads interactively."""

    def __init__(self, data: bytes = b""):
        super().__init__(io.BytesIO(data), encoding="utf-8")

    def isatty(self) -> bool:
        return True


def cli(argv: list, stdin: bytes | None = None, *, tty: bytes | None = None) -> Result:
    """`attnlab ARGV` in-process, with standard streams that behave like a real process's: `stdin` is piped
    bytes; without it stdin is a terminal that has typed `tty`.

    stdin decodes UTF-8 strictly (undecodable bytes raise, as in a UTF-8 locale); stdout encodes strictly
    (printing a lone surrogate raises, as on a UTF-8 terminal); stderr uses backslashreplace like Python's.
    capsys would be laxer than reality on both counts, and is created once per test, not per example.
    """
    from attnlab.cli import main

    fake_in = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8") if stdin is not None else _Tty(tty or b"")
    out_b, err_b = io.BytesIO(), io.BytesIO()
    fake_out = io.TextIOWrapper(out_b, encoding="utf-8", errors="strict", write_through=True)
    fake_err = io.TextIOWrapper(err_b, encoding="utf-8", errors="backslashreplace", write_through=True)
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = fake_in, fake_out, fake_err
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
    return Result(code, out_b.getvalue().decode("utf-8"), err_b.getvalue().decode("utf-8"))


def check(res: Result, expect: str = "any", *fragments: str) -> Result:
    """The contract: exit 0, or exit 2 with exactly one `error: ` line on stderr; never a traceback.
    `expect`: "error" (a user mistake: must be exit 2), "ok" (must be accepted) or "any"."""
    assert "Traceback" not in res.err and "Traceback" not in res.out, res.err[-3000:]
    assert res.code in (0, 2), (res.code, res.err[-3000:])
    if res.code == 2:
        lines = res.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), res.err[-3000:]
        for fragment in fragments:
            assert fragment in lines[0], lines[0]
    else:
        assert not any(line.startswith("error") for line in res.err.splitlines()), res.err[-3000:]
    if expect == "error":
        assert res.code == 2, (res.out[-500:], res.err[-500:])
    elif expect == "ok":
        assert res.code == 0, res.err[-3000:]
    return res


# ------------------------------------------------------------------------------------------ strategies

WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2007\u200a\u2028\u2029\u202f\u205f\u3000"
CONTROL = "".join(chr(c) for c in [*range(1, 32), 127, *range(0x80, 0xA0)]) + "\u200b\u200e\u200f\ufeff\ufffe"
SURROGATES = [chr(c) for c in (0xD800, 0xDBFF, 0xDC00, 0xDCFF, 0xDFFF, 0xDC80)]
# Scripts no tiny run saw (the chat run is Korean, the others English / Spanish), none of which NFKC turns
# into Latin letters (as it does 𝔦 -> i): out-of-vocabulary text.
OOV_ALPHABET = st.sampled_from(list("жщъюяэфцθψωλξאבגדहिनदीதᚠᚢᚦ"))
MEGABYTE = 1 << 20


def _words(vocab_words: list[str]):
    return st.sampled_from(vocab_words)


def blank_text():
    return st.text(alphabet=WHITESPACE, max_size=12)


def control_text(words: list[str]):
    """Control and format characters alone or between real words (no NUL: argv cannot carry one)."""
    piece = st.one_of(st.text(alphabet=CONTROL, min_size=1, max_size=4), _words(words))
    return st.lists(piece, min_size=1, max_size=6).map(" ".join)


def surrogate_text(words: list[str]):
    """Lone surrogates: what Python makes of argument bytes that are not UTF-8 (surrogateescape)."""
    piece = st.one_of(st.sampled_from(SURROGATES), _words(words))
    return st.lists(piece, min_size=1, max_size=5).map("".join)


def oov_text():
    return st.lists(st.text(alphabet=OOV_ALPHABET, min_size=1, max_size=6), min_size=1, max_size=4).map(
        " ".join
    )


def markup_text(words: list[str]):
    """Rich console markup and escapes: user text must never be read as markup."""
    tag = st.sampled_from(
        ["[/]", "[bold]", "[/red]", "[link=x]", "[", "]", "\\[", ":smile:", "\x1b[31m", "%s", "{0}"]
    )
    return st.lists(st.one_of(tag, _words(words)), min_size=1, max_size=5).map(" ".join)


def random_text():
    return st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40)


def megabyte(unit: str) -> str:
    return (unit * (MEGABYTE // len(unit) + 1))[:MEGABYTE]


def huge_units(words: list[str]):
    """What a 1 MB text repeats: a word, a letter, a control character, or an unknown letter. (Hypothesis
    draws the unit and the test builds the megabyte, so failure reports stay readable.)"""
    return st.one_of(_words(words).map(lambda w: w + " "), st.sampled_from(["x", "ж", "\x01", " a", "é."]))


def text_cases(words: list[str]):
    """(category, text) pairs; the category drives the per-verb expectations and the counts."""
    cases = [
        st.tuples(st.just("blank"), blank_text()),
        st.tuples(st.just("control"), control_text(words)),
        st.tuples(st.just("surrogate"), surrogate_text(words)),
        st.tuples(st.just("oov"), oov_text()),
        st.tuples(st.just("markup"), markup_text(words)),
        st.tuples(st.just("random"), random_text()),
    ]
    return st.one_of(*cases)


def vocab_words(run, n: int = 40) -> list[str]:
    """Some real words of a run's source vocabulary (so mixed inputs also reach the model)."""
    task = run.task
    codec = getattr(task, "src_codec", None) or getattr(task, "codec", None)
    if codec is not None:
        words = [t for t in codec.vocab.tokens[4:] if t.strip() and len(t) > 1] or codec.vocab.tokens[4:]
    elif hasattr(run.model, "vocab"):  # n-gram
        words = [w for w in list(run.model.vocab)[3:] if w.isalpha()]
    elif hasattr(run.model, "index_to_key"):  # word2vec
        words = list(run.model.index_to_key)
    else:  # bag of words
        words = sorted(run.model.vectorizer.vocabulary_)
    return sorted(words)[:: max(1, len(words) // n)][:n] or ["the"]


# ------------------------------------------------------------------------------------------ CLI: text

# verb -> (run, argv for one text, the categories that are user mistakes for it). Everything else must be
# exit 0 or a one-line error. Accepted on purpose: a whitespace prompt is text to a character model and an
# empty start to an n-gram model; an n-gram model scores unknown words as P(<unk> | context).
TEXT_VERBS = {
    "translate/rnn": ("rnn", lambda r, t: ["translate", r, "--", t], {"blank", "oov"}, 200),
    "translate/transformer": ("transformer", lambda r, t: ["translate", r, "--", t], {"blank", "oov"}, 100),
    "classify/bilstm": ("sentiment", lambda r, t: ["classify", r, "--", t], {"blank", "oov"}, 300),
    "classify/bow": ("bow", lambda r, t: ["classify", r, "--", t], {"blank", "oov"}, 300),
    "similar/bow": ("bow", lambda r, t: ["similar", r, "-k", "3", "--", t], {"blank", "oov"}, 300),
    "similar-words": (
        "word2vec",
        lambda r, t: ["similar-words", r, "-k", "3", "--", t],
        {"blank", "oov"},
        300,
    ),
    "score/char": ("char", lambda r, t: ["score", r, "--", t], {"blank", "oov"}, 300),
    "score/ngram": ("ngram", lambda r, t: ["score", r, "--", t], {"blank"}, 300),
    "generate/char": ("char", lambda r, t: ["generate", r, "--length", "4", f"--prompt={t}"], {"oov"}, 300),
    "generate/ngram": ("ngram", lambda r, t: ["generate", r, "--length", "4", f"--prompt={t}"], {"oov"}, 300),
    "chat": ("chat", lambda r, t: ["chat", r, "--", t], {"blank", "oov"}, 100),
}


@pytest.mark.parametrize("verb", TEXT_VERBS)
def test_cli_text_arguments(verb, run_dirs, loaded, fast_cli):
    """Empty, whitespace-only, control characters, lone surrogates, unknown scripts, random text."""
    name, argv, mistakes, n = TEXT_VERBS[verb]
    words, before = vocab_words(loaded[name]), COUNTS.copy()

    @fuzz(n)
    @given(case=text_cases(words))
    def one(case):
        category, text = case
        COUNTS[f"cli-text/{category}"] += 1
        check(cli(argv(run_dirs[name], text)), "error" if category in mistakes else "any")

    one()
    assert (COUNTS - before).total() >= n * 0.95


# What a 1 MB argument must get: "error" (refused: longer than the model accepts, or not in its vocabulary),
# "note" (refused, or truncated with a note on stderr) or "any" (models that read everything: bags of words;
# an n-gram model reads "xxx...x" as one unknown word).
HUGE = {
    "translate/rnn": "error",
    "translate/transformer": "error",
    "classify/bilstm": "note",
    "classify/bow": "any",
    "similar/bow": "any",
    "similar-words": "error",
    "score/char": "error",
    "score/ngram": "any",
    "generate/char": "note",
    "generate/ngram": "any",
    "chat": "error",
}


@pytest.mark.parametrize("verb", TEXT_VERBS)
def test_cli_megabyte_text(verb, run_dirs, loaded, fast_cli):
    """1 MB arguments are refused, truncated with a note, or processed, in seconds (never a hang)."""
    name, argv, _, _ = TEXT_VERBS[verb]

    @fuzz(2)
    @given(unit=huge_units(vocab_words(loaded[name])))
    def one(unit):
        COUNTS["cli-text/1mb"] += 1
        started = time.perf_counter()
        res = check(cli(argv(run_dirs[name], megabyte(unit))), "error" if HUGE[verb] == "error" else "any")
        if HUGE[verb] == "note" and res.code == 0:
            assert res.err.startswith("note: ") and "only its" in res.err, res.err
        assert time.perf_counter() - started < 10

    one()


# verb -> argv reading stdin; every one of them answers one line per non-empty input line.
STDIN_VERBS = {
    "translate": ("rnn", lambda r: ["translate", r]),
    "classify/bilstm": ("sentiment", lambda r: ["classify", r]),
    "classify/bow": ("bow", lambda r: ["classify", r]),
    "score/char": ("char", lambda r: ["score", r]),
    "score/ngram": ("ngram", lambda r: ["score", r]),
    "chat": ("chat", lambda r: ["chat", r]),
}
N_STDIN = 100  # per verb


def stdin_cases(words: list[str]):
    """(category, bytes): invalid UTF-8, blank lines only, NUL and control bytes, or a mix of lines."""
    good_line = st.lists(st.sampled_from(words), min_size=1, max_size=5).map(" ".join)
    line = st.one_of(
        good_line, blank_text(), control_text(words), st.text(alphabet="\x00\x01 ab", max_size=5)
    )
    lines = st.lists(line, min_size=1, max_size=4).map(lambda ls: "\n".join(ls).encode("utf-8"))
    bad_bytes = st.sampled_from(
        [b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80", b"\xe2\x82"]
    )
    invalid = st.tuples(lines, bad_bytes, st.integers(0, 100)).map(
        lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :]
    )
    return st.one_of(
        st.tuples(st.just("invalid-utf8"), invalid),
        st.tuples(st.just("blank"), blank_text().map(lambda s: s.encode("utf-8"))),
        st.tuples(st.just("lines"), lines),
        st.tuples(st.just("binary"), st.binary(max_size=64)),
    )


@pytest.mark.parametrize("verb", STDIN_VERBS)
def test_cli_stdin(verb, run_dirs, loaded, fast_cli):
    name, argv = STDIN_VERBS[verb]
    before = COUNTS.copy()

    @fuzz(N_STDIN)
    @given(case=stdin_cases(vocab_words(loaded[name])))
    def one(case):
        category, data = case
        COUNTS[f"cli-stdin/{category}"] += 1
        res = check(cli(argv(run_dirs[name]), stdin=data), "error" if category == "invalid-utf8" else "any")
        if category == "blank" or not data.strip():
            assert res.code == 2, res
        if category == "invalid-utf8":
            assert "UTF-8" in res.err, res.err

    one()
    assert (COUNTS - before).total() >= N_STDIN * 0.95


# ------------------------------------------------------------------------------------------ Python API


def _explain(run, text, **opts):
    from attnlab.serve.explain import explain

    return explain(run, text, **opts)


# name -> (run, call with one text, categories that are user mistakes, examples). Same expectations as the
# CLI; the API also gets NUL characters and lone surrogates (valid Python strings, if not valid text).
API_TEXT = {
    "translate/rnn": ("rnn", lambda r, t: r.task.translate(r.model, [t]), {"blank", "oov"}, 200),
    "translate/transformer": (
        "transformer",
        lambda r, t: r.task.translate(r.model, [t], beam=2),
        {"blank", "oov"},
        80,
    ),
    "explain/rnn": ("rnn", _explain, {"blank", "oov"}, 200),
    "explain/transformer": ("transformer", _explain, {"blank", "oov"}, 80),
    "classify/bilstm": ("sentiment", lambda r, t: r.task.classify(r.model, [t]), {"blank", "oov"}, 200),
    "classify/bow": ("bow", lambda r, t: r.task.classify(r.model, [t]), {"blank", "oov"}, 200),
    "similar/bow": ("bow", lambda r, t: r.task.similar(r.model, t, 3), {"blank", "oov"}, 200),
    "score/char": ("char", lambda r, t: r.task.score(r.model, t), {"blank", "oov"}, 200),
    "score/ngram": ("ngram", lambda r, t: r.task.score(r.model, t), {"blank"}, 200),
    "generate/char": ("char", lambda r, t: r.task.generate(r.model, t, length=3, seed=0), {"oov"}, 200),
    "generate/ngram": ("ngram", lambda r, t: r.task.generate(r.model, t, length=3, seed=0), {"oov"}, 200),
    "reply/chat": (
        "chat",
        lambda r, t: r.task.reply(r.model, [t], temperature=0.8, seed=1),
        {"blank", "oov"},
        200,
    ),
    "explain/chat": ("chat", _explain, {"blank", "oov"}, 60),
    "explain/bilstm": ("sentiment", _explain, {"blank", "oov"}, 200),
    "explain/char": ("char", lambda r, t: _explain(r, t, length=3), {"blank", "oov"}, 200),
}


def api_text_cases(words: list[str]):
    nul = st.lists(st.one_of(st.just("\x00"), _words(words)), min_size=1, max_size=5).map(" ".join)
    return st.one_of(text_cases(words), st.tuples(st.just("nul"), nul))


@pytest.mark.parametrize("call", API_TEXT)
def test_api_text(call, loaded):
    name, fn, mistakes, n = API_TEXT[call]
    run, before = loaded[name], COUNTS.copy()

    @fuzz(n)
    @given(case=api_text_cases(vocab_words(run)))
    def one(case):
        category, text = case
        COUNTS[f"api-text/{category}"] += 1
        try:
            fn(run, text)
        except UserError as err:
            assert "\n" not in str(err)
        else:
            assert category not in mistakes, f"{call} accepted {text!r}"

    one()
    assert (COUNTS - before).total() >= n * 0.95


@pytest.mark.parametrize("call", API_TEXT)
def test_api_megabyte_text(call, loaded):
    """A 1 MB string through the API: a UserError or a result, in seconds."""
    name, fn, _, _ = API_TEXT[call]
    run = loaded[name]

    @fuzz(1)
    @given(unit=huge_units(vocab_words(run)))
    def one(unit):
        COUNTS["api-text/1mb"] += 1
        started = time.perf_counter()
        with contextlib.suppress(UserError):
            fn(run, megabyte(unit))
        assert time.perf_counter() - started < 10

    one()


# Option values: zero, negative, huge, NaN and infinite numbers, and None where an option may be left out.
# (Values of the wrong Python type, a string for `beam`, are programming errors and may raise TypeError.)
INTS = st.one_of(st.integers(-3, 3), st.integers(-(2**40), 2**40), st.sampled_from([0, -1, 10**6]))
FLOATS = st.one_of(
    INTS, st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, -1e-9, float("nan")])
)
OPTIONAL_INTS, OPTIONAL_FLOATS = st.one_of(st.none(), INTS), st.one_of(st.none(), FLOATS)
SEEDS = st.one_of(st.none(), INTS, st.integers(-(2**70), 2**70))
LENGTHS = st.integers(-5, 5)  # (a long generation is slow, not wrong)
SAMPLING = {  # generate()'s options, the same for every language model
    "length": LENGTHS,
    "temperature": FLOATS,
    "top_k": OPTIONAL_INTS,
    "top_p": OPTIONAL_FLOATS,
    "seed": SEEDS,
}
API_OPTIONS = {
    "translate": (
        "rnn",
        lambda r, kw: r.task.translate(r.model, [known_sentence(r)], **kw),
        {"beam": INTS, "n_best": INTS, "alpha": FLOATS, "batch_size": INTS},
    ),
    "explain": (
        "transformer",
        lambda r, kw: _explain(r, known_sentence(r), **kw),
        {"beam": INTS, "n_best": INTS, "alpha": FLOATS, "hypothesis": INTS, "temperature": FLOATS},
    ),
    "explain/char": (
        "char",
        lambda r, kw: _explain(r, "the", **kw),
        {
            "length": INTS,
            "temperature": FLOATS,
            "top_k": OPTIONAL_INTS,
            "top_p": OPTIONAL_FLOATS,
            "seed": INTS,
        },
    ),
    "classify": (
        "sentiment",
        lambda r, kw: r.task.classify(r.model, ["a good film"], **kw),
        {"batch_size": INTS},
    ),
    "similar": ("bow", lambda r, kw: r.task.similar(r.model, "a good film", **kw), {"k": INTS}),
    "generate/char": (
        "char",
        lambda r, kw: r.task.generate(r.model, "the", **kw),
        SAMPLING,
    ),
    "generate/ngram": (
        "ngram",
        lambda r, kw: r.task.generate(r.model, "the", **kw),
        SAMPLING,
    ),
    "reply": (
        "chat",
        lambda r, kw: r.task.reply(r.model, ["영화 볼래?"], **kw),
        {
            "beam": st.integers(-2, 3),
            "temperature": OPTIONAL_FLOATS,
            "top_p": OPTIONAL_FLOATS,
            "top_k": OPTIONAL_INTS,
            "alpha": FLOATS,
            "seed": SEEDS,
        },
    ),
}
N_API_OPTIONS = 80  # per call


def known_sentence(run) -> str:
    """Words the run knows, so the options (not the text) decide what happens."""
    return " ".join(vocab_words(run)[:4])


@pytest.mark.parametrize("call", API_OPTIONS)
def test_api_options(call, loaded):
    name, fn, options = API_OPTIONS[call]
    run, before = loaded[name], COUNTS.copy()

    @fuzz(N_API_OPTIONS)
    @given(kw=st.fixed_dictionaries({}, optional=options))
    def one(kw):
        COUNTS["api-options"] += 1
        with contextlib.suppress(UserError):
            fn(run, kw)

    one()
    assert (COUNTS - before).total() >= N_API_OPTIONS * 0.95


# ------------------------------------------------------------------------------------------ recipes

# A base recipe per task and architecture; the fuzz breaks one thing in a copy.
BASES = [
    *RECIPES.values(),
    *({"task": "classification", "model": {"arch": a}} for a in ("avg", "lstm", "transformer")),
    {"task": "lm", "model": {"arch": "lstm"}},
    {"task": "lm", "model": {"arch": "ngram", "smoothing": "add-k"}},
]
# Where 0 means something (a seed, "none", "off"): 0 may be accepted there, and only there; a negative
# number never is.
LEGIT_ZERO = {
    "data.split_seed",
    "data.valid_bleu_sentences",  # 0: validate on the loss only
    "data.test_fraction",  # 0: test on the validation text
    "model.dropout",
    "model.teacher_forcing",
    "model.hidden",  # avg classifier: 0 = no hidden layer
    "train.seed",
    "train.warmup",
    "train.weight_decay",
    "train.min_lr",
    "train.label_smoothing",
}


def _fields(raw: dict) -> list[tuple[str, str, object]]:
    """(section, key, annotation) of every setting the recipe's task and architecture accept."""
    import dataclasses
    import typing

    from attnlab.config import TrainConfig
    from attnlab.tasks import get_task

    task = get_task(raw["task"])
    out = []
    for section, cls in (
        ("data", task.DataConfig),
        ("model", task.MODELS[raw["model"]["arch"]]),
        ("train", TrainConfig),
    ):
        hints = typing.get_type_hints(cls)
        out += [(section, f.name, hints[f.name]) for f in dataclasses.fields(cls) if f.init]
    return out


# Computed here, not while drawing: the task modules' imports touch the global random state, which
# Hypothesis flags inside a strategy.
FIELDS = [_fields(raw) for raw in BASES]


def _is_numeric(tp) -> bool:
    text = str(tp)
    return ("int" in text or "float" in text) and "list" not in text


def _not(values) -> st.SearchStrategy[str]:
    """An identifier that is none of `values` (a suffix, not a filter: filters are slow to draw from)."""
    return IDENTIFIER.map(lambda k: k + "_x" if k in values else k)


SOME_LIST = st.lists(st.integers(), min_size=1, max_size=3)
SOME_DICT = st.dictionaries(st.text(max_size=3), st.integers(), min_size=1, max_size=2)
NOT_A_NUMBER = st.sampled_from(["abc", "1.5.2", "0x", "ten", "3 4", "--", "1e", "½"])


@functools.cache
def _wrong_values(tp) -> st.SearchStrategy:
    """Values of another type than `tp` (a string for a number, a number for a string, a scalar for a list).
    `None` is left out: it is a valid value of every optional setting."""
    import types
    import typing

    args = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)
    (inner,) = [a for a in args if a is not type(None)]
    if typing.get_origin(inner) is list:
        return st.one_of(st.integers(), NOT_A_NUMBER, SOME_DICT)
    if typing.get_origin(inner) is typing.Literal:
        return st.one_of(st.integers(), SOME_LIST, SOME_DICT, _not(set(typing.get_args(inner))))
    if inner is str:
        return st.one_of(st.integers(), st.floats(), SOME_LIST, SOME_DICT)
    if inner is bool:
        return st.one_of(st.integers(), NOT_A_NUMBER, st.floats())
    return st.one_of(NOT_A_NUMBER, SOME_LIST, SOME_DICT, st.booleans())


NEGATIVE = st.one_of(
    st.integers(max_value=-1),
    st.floats(max_value=-1e-12, allow_infinity=True),
    st.sampled_from([0, 0.0, -0.0, float("nan"), -1, -1e-9, float("-inf")]),
)
IDENTIFIER = st.from_regex(r"[a-z][a-z_0-9]{0,15}", fullmatch=True)
RECIPE_TASKS = {"translation", "classification", "lm", "chat", "classic"}
ALL_ARCHS = {"rnn", "transformer", "avg", "lstm", "bilstm-attention", "ngram", "bow", "word2vec"}
UNHASHABLE = st.one_of(st.integers(), SOME_LIST, SOME_DICT)
# Per base recipe, built once: every setting, the numeric ones, and unknown names per section.
NUMERIC = [[f for f in fields if _is_numeric(f[2])] for fields in FIELDS]
UNKNOWN = [
    {sec: _not({k for s, k, _ in fields if s == sec} | {"arch"}) for sec in ("data", "model", "train")}
    for fields in FIELDS
]


@st.composite
def broken_recipes(draw):
    """(category, raw recipe, dotted key or None): one mistake in an otherwise valid recipe (or a 0 where
    0 means something: see LEGIT_ZERO and `legit_zero`)."""
    import copy

    i = draw(st.integers(0, len(BASES) - 1))
    raw = copy.deepcopy(BASES[i])
    for section in ("data", "model", "train"):
        raw.setdefault(section, {})
    category = draw(st.sampled_from(["unknown-key", "zero-or-negative", "wrong-type", "structure"]))
    if category == "unknown-key":
        section = draw(st.sampled_from(["data", "model", "train"]))
        key = draw(UNKNOWN[i][section])
        raw[section][key] = draw(st.one_of(st.integers(), st.text(max_size=5), st.none()))
        return category, raw, f"{section}.{key}"
    if category == "zero-or-negative":
        section, key, _ = draw(st.sampled_from(NUMERIC[i]))
        raw[section][key] = draw(NEGATIVE)
        return category, raw, f"{section}.{key}"
    if category == "wrong-type":
        section, key, tp = draw(st.sampled_from(FIELDS[i]))
        raw[section][key] = draw(_wrong_values(tp))
        return category, raw, f"{section}.{key}"
    what = draw(st.sampled_from(["section", "task", "arch", "not-a-mapping", "no-task", "name"]))
    if what == "section":
        raw[draw(_not(set(raw)))] = {}
    elif what == "task":
        raw["task"] = draw(st.one_of(_not(RECIPE_TASKS), UNHASHABLE, st.none()))
    elif what == "arch":
        raw["model"]["arch"] = draw(st.one_of(_not(ALL_ARCHS), UNHASHABLE))
    elif what == "name":
        raw["name"] = draw(UNHASHABLE)
    elif what == "not-a-mapping":
        raw[draw(st.sampled_from(["data", "model", "train"]))] = draw(
            st.one_of(SOME_LIST, st.text(min_size=1, max_size=5), st.integers())
        )
    else:
        del raw["task"]
    return category, raw, None


def legit_zero(case) -> bool:
    category, raw, key = case
    return (
        category == "zero-or-negative"
        and key in LEGIT_ZERO
        and raw[key.split(".")[0]][key.split(".")[1]] == 0
    )


N_RECIPES = 1800


def test_api_build_recipe_refuses_broken_recipes():
    """Unknown keys, zero or negative numbers, wrong types, broken structure: always a one-line UserError."""
    from attnlab.recipe import build_recipe

    before = COUNTS.copy()

    @fuzz(N_RECIPES)
    @given(case=broken_recipes())
    def one(case):
        category, raw, key = case
        COUNTS[f"recipe/{category}"] += 1
        try:
            build_recipe(raw)
        except UserError as err:
            assert "\n" not in str(err)
            if category == "unknown-key":
                assert f"unknown key '{key}'" in str(err)
        else:
            assert legit_zero(case), f"{category}: {key} was accepted"

    one()
    assert (COUNTS - before).total() >= N_RECIPES * 0.95


class _Accepted(BaseException):  # BaseException: main() re-raises it untouched
    """Raised instead of training when `attnlab train` accepts a recipe."""


@pytest.fixture
def no_training(fast_cli, monkeypatch):
    """`attnlab train` validates the recipe, then calls runs.train: stop there (the fuzz must not train)."""
    import attnlab.runs

    def train(recipe, *args, **kwargs):
        raise _Accepted(recipe)

    monkeypatch.setattr(attnlab.runs, "train", train)


@pytest.fixture(scope="session")
def recipe_files(tmp_path_factory) -> list[Path]:
    import yaml

    base = tmp_path_factory.mktemp("recipes")
    paths = []
    for i, raw in enumerate(BASES):
        paths.append(base / f"recipe-{i}.yaml")
        paths[-1].write_text(yaml.safe_dump(raw), encoding="utf-8")
    return paths


def _yaml_scalar(value) -> str:
    import yaml

    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


@st.composite
def broken_sets(draw):
    """(category, index of the base recipe, --set item, legit): a --set that breaks the recipe (or sets a
    meaningful 0: `legit`)."""
    i = draw(st.integers(0, len(BASES) - 1))
    category = draw(st.sampled_from(["unknown-key", "zero-or-negative", "wrong-type", "malformed"]))
    legit = False
    if category == "unknown-key":
        section = draw(st.sampled_from(["data", "model", "train", "other"]))
        key = draw(UNKNOWN[i].get(section, IDENTIFIER))  # "other": an unknown section
        item = f"{section}.{key}=1"
    elif category == "zero-or-negative":
        section, key, _ = draw(st.sampled_from(NUMERIC[i]))
        value = draw(NEGATIVE)
        legit = f"{section}.{key}" in LEGIT_ZERO and value == 0
        item = f"{section}.{key}={_yaml_scalar(value)}"
    elif category == "wrong-type":
        section, key, _ = draw(st.sampled_from(NUMERIC[i]))
        # (Not "'3'": a quoted number is read as the number. Not "": that is null, fine for optional keys.)
        value = draw(st.sampled_from(["abc", "[1, 2]", "{a: 1}", "true", "1.5.2", "0x", "~x", "3 4", "1,5"]))
        item = f"{section}.{key}={value}"
    else:
        item = draw(
            st.one_of(
                st.sampled_from(
                    ["train.lr", "=1", ".lr=1", "train..lr=1", "train.lr.x=1", "task=xyz", "model.arch=x"]
                ),
                st.sampled_from(["data=[1]", "train=3", "train.lr=[", "model={", "name=[1]", "task=[1]"]),
                st.text(alphabet="=.:[]{}&*!|>-#%@` \tazAZ09", max_size=12).filter(
                    lambda s: "=" not in s or s.startswith("=")
                ),
            )
        )
    return category, i, item, legit


N_TRAIN_SET = 600


def test_cli_train_refuses_broken_overrides(recipe_files, no_training):
    before = COUNTS.copy()

    @fuzz(N_TRAIN_SET)
    @given(case=broken_sets())
    def one(case):
        category, i, item, legit = case
        COUNTS[f"cli-train-set/{category}"] += 1
        try:
            res = cli(["train", recipe_files[i], "--set", item])
        except _Accepted:
            assert legit, f"--set {item} was accepted"
        else:
            check(res, "error")

    one()
    assert (COUNTS - before).total() >= N_TRAIN_SET * 0.95


def recipe_bytes():
    """(category, file content): invalid UTF-8, broken YAML, YAML that is not a mapping, broken recipes."""
    import yaml

    broken = broken_recipes().filter(lambda c: not legit_zero(c))
    broken = broken.map(lambda c: yaml.safe_dump(c[1], allow_unicode=True).encode("utf-8"))
    yamlish = st.text(alphabet="{}[]:-,&*!|>?%@`'\"# \t\nabc01.", max_size=60).map(
        lambda s: s.encode("utf-8")
    )
    return st.one_of(
        st.tuples(
            st.just("invalid-utf8"), st.binary(max_size=40).map(lambda b: b"task: lm\n" + b + b"\xff\xfe")
        ),
        st.tuples(st.just("yaml-syntax"), yamlish),
        st.tuples(
            st.just("not-a-mapping"),
            st.sampled_from([b"", b"- a\n- b\n", b"42", b"null", b"'x'", b"[task, lm]"]),
        ),
        st.tuples(st.just("broken-recipe"), broken),
        st.tuples(st.just("binary"), st.binary(max_size=80)),
    )


N_RECIPE_FILES = 300


def test_cli_train_refuses_broken_recipe_files(tmp_path_factory, no_training):
    folder, before = tmp_path_factory.mktemp("bad-recipes"), COUNTS.copy()

    @fuzz(N_RECIPE_FILES)
    @given(case=recipe_bytes())
    def one(case):
        category, content = case
        COUNTS[f"recipe-file/{category}"] += 1
        path = folder / "recipe.yaml"
        path.write_bytes(content)
        try:
            res = cli(["train", path])
        except _Accepted:  # random YAML can be a valid recipe only by naming a task and nothing else wrong
            assert category in ("yaml-syntax", "binary"), content
        else:
            check(res, "error")

    one()
    assert (COUNTS - before).total() >= N_RECIPE_FILES * 0.95


# ------------------------------------------------------------------------------------------ eval --file

BAD_UTF8 = st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\x80abc", b"\xe2\x82", b"\xf5\x80\x80\x80"])


def _with_bad_bytes(content: st.SearchStrategy[bytes]):
    return st.tuples(content, BAD_UTF8, st.integers(0, 200)).map(lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :])


def _field(words: list[str]):
    """A cell: real words, possibly with control characters, NUL or quotes mixed in."""
    word = st.one_of(_words(words), st.sampled_from(["\x00", "\x01", '"', "'", "ж", ","]))
    return st.lists(word, min_size=1, max_size=4).map(" ".join)


def tsv_files(words: list[str]):
    """Translation / chat eval files: `source<TAB>reference` lines."""
    good = st.lists(st.tuples(_field(words), _field(words)), min_size=1, max_size=3)
    lines = good.map(lambda rows: "\n".join(f"{a}\t{b}" for a, b in rows).encode("utf-8"))
    return st.one_of(
        st.tuples(st.just("invalid-utf8"), _with_bad_bytes(lines)),
        st.tuples(st.just("empty"), blank_text().map(lambda s: s.encode("utf-8"))),
        st.tuples(st.just("missing-field"), _field(words).map(lambda a: f"{a}\n".encode())),
        st.tuples(st.just("empty-field"), _field(words).map(lambda a: f"{a}\t \n".encode())),
        st.tuples(
            st.just("extra-field"), good.map(lambda rs: "\n".join(f"{a}\t{b}\tx" for a, b in rs).encode())
        ),
        st.tuples(st.just("content"), lines),
        st.tuples(st.just("binary"), st.binary(max_size=60)),
    )


def csv_files(words: list[str]):
    """Sentiment eval files: a CSV with `review` and `sentiment` columns."""
    import csv

    def write(header, rows) -> bytes:
        buf = io.StringIO()
        csv.writer(buf).writerows([header, *rows])
        return buf.getvalue().encode("utf-8")

    label = st.sampled_from(["positive", "negative", "Positive", "NEGATIVE"])
    rows = st.lists(st.tuples(_field(words), label), min_size=1, max_size=3)
    good = rows.map(lambda rs: write(["review", "sentiment"], rs))
    return st.one_of(
        st.tuples(st.just("invalid-utf8"), _with_bad_bytes(good)),
        st.tuples(st.just("empty"), blank_text().map(lambda s: s.encode("utf-8"))),
        st.tuples(
            st.just("missing-column"),
            st.tuples(
                st.sampled_from([["text", "label"], ["review"], ["sentiment"], ["review", "label"]]), rows
            ).map(lambda t: write(t[0], [r[: len(t[0])] for r in t[1]])),
        ),
        st.tuples(
            st.just("extra-column"),
            rows.map(lambda rs: write(["id", "review", "sentiment"], [(i, *r) for i, r in enumerate(rs)])),
        ),
        st.tuples(
            st.just("extra-field"),
            rows.map(lambda rs: write(["review", "sentiment"], [(*r, "x") for r in rs])),
        ),
        st.tuples(
            st.just("missing-field"), rows.map(lambda rs: write(["review", "sentiment"], [r[:1] for r in rs]))
        ),
        st.tuples(
            st.just("bad-label"),
            rows.map(lambda rs: write(["review", "sentiment"], [(r[0], "pos") for r in rs])),
        ),
        st.tuples(
            st.just("empty-review"),
            rows.map(lambda rs: write(["review", "sentiment"], [("", r[1]) for r in rs])),
        ),
        st.tuples(st.just("content"), good),
        st.tuples(st.just("binary"), st.binary(max_size=60)),
    )


def text_files(words: list[str]):
    """Language-model eval files: plain text."""
    text = st.lists(_field(words), min_size=1, max_size=4).map(lambda ls: "\n".join(ls).encode("utf-8"))
    return st.one_of(
        st.tuples(st.just("invalid-utf8"), _with_bad_bytes(text)),
        st.tuples(st.just("empty"), blank_text().map(lambda s: s.encode("utf-8"))),
        st.tuples(st.just("oov"), oov_text().map(lambda s: s.encode("utf-8"))),
        st.tuples(st.just("content"), text),
        st.tuples(st.just("binary"), st.binary(max_size=60)),
    )


TSV_MISTAKES = {"invalid-utf8", "empty", "missing-field", "empty-field"}
CSV_MISTAKES = {
    "invalid-utf8",
    "empty",
    "missing-column",
    "extra-field",
    "missing-field",
    "bad-label",
    "empty-review",
}
# run -> (file strategy, examples, categories that must be refused). The rest may be accepted: a third TSV
# column (Tatoeba's attribution) and extra CSV columns are ignored on purpose (see the last test).
EVAL_FILES = {
    "rnn": (tsv_files, 120, TSV_MISTAKES),
    "chat": (tsv_files, 50, TSV_MISTAKES),
    "sentiment": (csv_files, 150, CSV_MISTAKES),
    "bow": (csv_files, 150, CSV_MISTAKES),
    "char": (text_files, 120, {"invalid-utf8", "empty"}),
    "ngram": (text_files, 120, {"invalid-utf8", "empty"}),
}


@pytest.mark.parametrize("name", EVAL_FILES)
def test_cli_eval_files(name, run_dirs, loaded, fast_cli, tmp_path_factory):
    """Invalid UTF-8, empty files, missing or extra fields and columns, bad labels, NUL and control bytes."""
    files, n, mistakes = EVAL_FILES[name]
    path, before = tmp_path_factory.mktemp(f"eval-{name}") / "mine.txt", COUNTS.copy()

    @fuzz(n)
    @given(case=files(vocab_words(loaded[name])))
    def one(case):
        category, content = case
        COUNTS[f"eval-file/{category}"] += 1
        path.write_bytes(content)
        res = check(cli(["eval", run_dirs[name], "--file", path]), "error" if category in mistakes else "any")
        if category == "invalid-utf8":
            assert "UTF-8" in res.err, res.err

    one()
    assert (COUNTS - before).total() >= n * 0.95


# ------------------------------------------------------------------------------------------ bad paths

# run -> a command that uses it with a known input (filled in with the run's own words).
USE = {
    "rnn": lambda r, w: ["translate", r, w],
    "transformer": lambda r, w: ["translate", r, w],
    "sentiment": lambda r, w: ["classify", r, w],
    "bow": lambda r, w: ["classify", r, w],
    "word2vec": lambda r, w: ["similar-words", r, w.split()[0]],
    "char": lambda r, w: ["generate", r, "--length", "2", "--prompt", w],
    "ngram": lambda r, w: ["score", r, w],
    "chat": lambda r, w: ["chat", r, w],
}
VERBS_WITH_RUN = [
    ["translate", "{}", "hola"],
    ["classify", "{}", "good"],
    ["similar", "{}", "good"],
    ["similar-words", "{}", "good"],
    ["score", "{}", "the"],
    ["generate", "{}", "--length", "2"],
    ["chat", "{}", "hi"],
    ["eval", "{}"],
    ["plot", "attention", "{}", "hola", "-o", "{out}"],
    ["serve", "{}"],
]


@st.composite
def bad_run_paths(draw, base: Path, run_dirs: dict[str, Path]):
    """(category, path): what a user passes where a run directory belongs, and is not one."""
    category = draw(
        st.sampled_from(["missing", "file", "empty-dir", "recipe", "long", "odd-name", "config-only"])
    )
    name = draw(st.from_regex(r"[a-z0-9._-]{1,12}", fullmatch=True).filter(lambda s: s not in (".", "..")))
    if category == "missing":
        return category, base / "missing" / name
    if category == "file":
        path = base / f"file-{name}"
        path.write_bytes(draw(st.binary(max_size=20)))
        return category, path
    if category == "empty-dir":
        (base / f"dir-{name}").mkdir(exist_ok=True)
        return category, base / f"dir-{name}"
    if category == "recipe":  # the most common mix-up: the recipe instead of the run it trained
        return category, REPO / "recipes" / draw(
            st.sampled_from(sorted(p.name for p in (REPO / "recipes").glob("*.yaml")))
        )
    if category == "long":  # longer than a file name (255) or a path (4096) may be
        return category, base / ("x" * draw(st.sampled_from([256, 300, 5000])))
    if category == "odd-name":
        return category, base / draw(st.sampled_from(["-", " ", "\t", "~", "*", "?", "a\nb", "ж", "\u202e"]))
    run = run_dirs[draw(st.sampled_from(sorted(run_dirs)))]
    path = base / f"config-only-{name}"
    path.mkdir(exist_ok=True)
    (path / "config.yaml").write_bytes((run / "config.yaml").read_bytes())
    return category, path


N_BAD_PATHS = 300


def test_cli_bad_run_paths(run_dirs, fast_cli, tmp_path_factory):
    """Missing directories, files, empty directories, recipes, over-long and odd names: exit 2, one line."""
    base, before = tmp_path_factory.mktemp("bad-paths"), COUNTS.copy()

    @fuzz(N_BAD_PATHS)
    @given(case=bad_run_paths(base, run_dirs), verb=st.sampled_from(VERBS_WITH_RUN))
    def one(case, verb):
        category, path = case
        COUNTS[f"bad-path/{category}"] += 1
        argv = [str(path) if a == "{}" else str(base / "out.png") if a == "{out}" else a for a in verb]
        check(cli(argv), "error")

    one()
    assert (COUNTS - before).total() >= N_BAD_PATHS * 0.95


# Files a trained run cannot be used without. Exceptions, by design: a missing or empty `best` pointer falls
# back to `latest`; config.yaml cut at a line may still be a valid recipe (the weights then decide).
ESSENTIAL = (
    "config.yaml",
    "codec",
    "best",
    "manifest.json",
    "model.safetensors",
    "ngram.json",
    "model/",
    "vectors.txt",
)


def essential(target: str, how: str) -> bool:
    if target.endswith("best"):
        return how not in ("delete", "empty", "directory")
    if target == "config.yaml":
        return how != "truncate"
    return any(e in target for e in ESSENTIAL)


@st.composite
def corruptions(draw, run: Path):
    """(file relative to the run, how): one file of a trained run damaged."""
    files = sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())
    target = draw(st.sampled_from(files))
    how = draw(
        st.sampled_from(["delete", "empty", "truncate", "garbage", "directory", "json", "invalid-utf8"])
    )
    return target, how, draw(st.binary(min_size=1, max_size=64))


def damage(path: Path, how: str, garbage: bytes) -> None:
    data = path.read_bytes()
    if how in ("delete", "directory"):
        path.unlink()
        if how == "directory":
            path.mkdir()
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        path.write_bytes(garbage)
    elif how == "json":  # valid JSON of the wrong shape
        path.write_bytes(b'[1, {"a": null}]')
    else:
        path.write_bytes(b"\xff\xfe" + data[2:])


N_CORRUPT = 25  # per run


@pytest.mark.parametrize("name", USE)
def test_cli_corrupt_runs(name, run_dirs, loaded, fast_cli, tmp_path_factory):
    """A trained run with one file deleted, emptied, truncated, overwritten or replaced by a directory."""
    import shutil

    source, base, before = run_dirs[name], tmp_path_factory.mktemp(f"corrupt-{name}"), COUNTS.copy()
    words = " ".join(vocab_words(loaded[name])[:3])

    @fuzz(N_CORRUPT)
    @given(case=corruptions(source))
    def one(case):
        target, how, garbage = case
        COUNTS["corrupt-run"] += 1
        run = base / "run"
        shutil.rmtree(run, ignore_errors=True)
        shutil.copytree(source, run)
        damage(run / target, how, garbage)
        check(cli(USE[name](run, words)), "error" if essential(target, how) else "any")

    one()
    assert (COUNTS - before).total() >= N_CORRUPT * 0.95


# ------------------------------------------------------------------------------------------ CLI options

HUGE_INT = str(2**70)
# verb -> (run or None, argv before the options, [options that are mistakes]). Two may be combined.
OPTION_CASES = {
    "translate": (
        "rnn",
        ["translate", "{run}", "{words}"],
        [
            *(["--beam", v] for v in ("0", "-1", "65", "abc", "1.5", HUGE_INT)),
            *(["--n-best", v] for v in ("0", "2", "65", "x")),
            *(["--alpha", v] for v in ("nan", "inf", "-1", "abc", "-inf")),
            ["--unknown-option"],
        ],
    ),
    "classify": (
        "sentiment",
        ["classify", "{run}", "{words}"],
        [["--top", v] for v in ("-1", "51", "abc", HUGE_INT)],
    ),
    "similar": ("bow", ["similar", "{run}", "{words}"], [["-k", v] for v in ("0", "-1", "101", "abc", "")]),
    "similar-words": (
        "word2vec",
        ["similar-words", "{run}", "{word}"],
        [["-k", v] for v in ("0", "-3", "101", "z")],
    ),
    "generate": (
        "char",
        ["generate", "{run}", "--prompt", "{words}"],
        [
            *(["--length", v] for v in ("-1", "100001", "abc", HUGE_INT)),
            *(["--temperature", v] for v in ("-1", "abc", "nan", "inf", ",", "1,,x", "-0.5,1", "", "1e999")),
            *(["--top-k", v] for v in ("0", "-1", "abc")),
            *(["--top-p", v] for v in ("-0.1", "1.5", "nan", "abc", "0")),
            *(["--seed", v] for v in ("abc", HUGE_INT, "-" + HUGE_INT, "-1")),
        ],
    ),
    "chat": (
        "chat",
        ["chat", "{run}", "{words}"],
        [
            *(["--beam", v] for v in ("0", "65", "x")),
            *(["--temperature", v] for v in ("0", "-1", "nan", "inf", "abc")),
            *(["--top-p", v] for v in ("0", "1.5", "nan", "-1")),
            *(["--seed", v, "--temperature", "0.5"] for v in (HUGE_INT, "-1", "abc")),
            ["--beam", "3", "--temperature", "0.5"],
        ],
    ),
    "eval": (
        "rnn",
        ["eval", "{run}"],
        [
            *(["--split", v] for v in ("train", "xyz", "", "TEST")),
            *(["--beam", v] for v in ("0", "-1", "abc", "65")),
            *(["--file", v] for v in ("{missing}", "{run}", "", "{run}/config.yaml/x")),
        ],
    ),
    "plot-attention": (
        "transformer",
        ["plot", "attention", "{run}", "{words}", "-o", "{out}"],
        [
            *(["--kind", v] for v in ("xyz", "", "CROSS")),
            *(["--layer", v] for v in ("0", "-1", "99", "x")),
            *(["--layer", "1", "--head", v] for v in ("0", "99", "-1")),
            ["--head", "1"],
            ["-o", "{run}/config.yaml/a.png"],  # under a file: no directory can be made there, even as root
            ["-o", "{run}"],
        ],
    ),
    "plot-pe": (
        None,
        ["plot", "pe", "-o", "{out}"],
        [
            *(["--d-model", v] for v in ("1", "0", "-1", "4097", "x")),
            *(["--length", v] for v in ("0", "-1", "10001")),
        ],
    ),
    "plot-schedule": (
        None,
        ["plot", "schedule", "-o", "{out}"],
        [*(["--warmup", v] for v in ("0", "-1")), *(["--steps", v] for v in ("1", "0")), ["--d-model", "0"]],
    ),
    "data": (
        None,
        ["data"],
        [
            ["show", "nope"],
            ["show", ""],
            ["fetch", "nope"],
            ["frobnicate"],
        ],
    ),
    "train": (
        None,
        ["train", "{recipe}"],
        [
            *(["--max-minutes", v] for v in ("-1", "0", "nan", "abc")),
            *(["--device", v] for v in ("tpu", "", "cuda:x")),
            ["--set"],
        ],
    ),
    "top-level": (None, [], [["frobnicate"], ["--frobnicate"], ["translate"], ["eval"], ["train"], ["-x"]]),
}
N_OPTIONS = 40  # per verb


@pytest.mark.parametrize("verb", OPTION_CASES)
def test_cli_bad_option_values(verb, run_dirs, loaded, recipe_files, no_training, tmp_path_factory):
    """Zero, negative, out-of-range, NaN, infinite and non-numeric option values; missing values."""
    name, prefix, mistakes = OPTION_CASES[verb]
    out, before = tmp_path_factory.mktemp(f"opt-{verb}") / "out.png", COUNTS.copy()
    words = " ".join(vocab_words(loaded[name])[:3]) if name else ""
    fill = {
        "{run}": str(run_dirs.get(name, "")),
        "{words}": words,
        "{word}": words.split()[0] if words else "",
        "{out}": str(out),
        "{recipe}": str(recipe_files[0]),
        "{missing}": str(out.parent / "missing.tsv"),
    }

    def disjoint(options) -> bool:  # a later --head 1 would repair an earlier --head 0
        names = [a for o in options for a in o if a.startswith("-")]
        return len(names) == len(set(names))

    @fuzz(N_OPTIONS)
    @given(options=st.lists(st.sampled_from(mistakes), min_size=1, max_size=2).filter(disjoint))
    def one(options):
        COUNTS["cli-options"] += 1
        argv = [
            a.replace("{run}", fill["{run}"]) if a.startswith("{run}/") else fill.get(a, a)
            for a in [*prefix, *(a for opt in options for a in opt)]
        ]
        try:
            check(cli(argv), "error")
        except _Accepted:  # `train` got as far as training: an option that should have been refused
            pytest.fail(f"{argv} was accepted")

    one()
    assert (COUNTS - before).total() >= min(N_OPTIONS, len(mistakes)) * 0.95


# ------------------------------------------------------------------------------------------ interactive chat

N_INTERACTIVE = 60


def test_cli_chat_interactive(run_dirs, loaded, fast_cli):
    """Typed lines: a mistake gets a message and the prompt again; bytes that are not UTF-8 end the session
    with one error line (the terminal's encoding is wrong: nothing typed after them can be trusted)."""
    words, before = vocab_words(loaded["chat"]), COUNTS.copy()
    line = st.one_of(
        text_cases(words).filter(lambda c: c[0] != "surrogate").map(lambda c: c[1].encode("utf-8")), BAD_UTF8
    )
    session = st.lists(line.map(lambda b: b.replace(b"\n", b" ")), min_size=1, max_size=4)

    @fuzz(N_INTERACTIVE)
    @given(lines=session, quit_=st.booleans())
    def one(lines, quit_):
        COUNTS["cli-chat-interactive"] += len(lines)
        typed = b"\n".join([*lines, *([b"quit"] if quit_ else [])]) + b"\n"
        invalid = any(not _decodes(b) for b in lines)
        res = check(cli(["chat", run_dirs["chat"]], tty=typed), "error" if invalid else "ok")
        if invalid:
            assert "UTF-8" in res.err

    one()
    assert (COUNTS - before).total() >= N_INTERACTIVE


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# ------------------------------------------------------------------------------------------ what is fine


def test_cli_accepts_odd_but_meaningful_input(run_dirs, loaded, fast_cli, tmp_path):
    """The other half of the contract: the fuzz's "any" cases that must really work (exit 0)."""
    words = {name: " ".join(vocab_words(run)[:3]) for name, run in loaded.items()}
    r = {name: str(path) for name, path in run_dirs.items()}
    long_review = " ".join([words["sentiment"]] * 400)
    tsv, csv = tmp_path / "pairs.tsv", tmp_path / "reviews.csv"
    tsv.write_text(f"{words['rnn']}\tsome reference\tTatoeba attribution\n", encoding="utf-8")
    csv.write_text(f"id,review,sentiment,extra\n1,{words['sentiment']},positive,x\n", encoding="utf-8")
    cases = [
        ["translate", r["rnn"], words["rnn"]],
        ["translate", r["transformer"], "--beam", "3", "--n-best", "2", f"{words['transformer']} \x01 ж"],
        ["classify", r["sentiment"], f"[/] {words['sentiment']} [bold]"],
        ["classify", r["bow"], words["bow"]],
        ["score", r["ngram"], "жжж qqq"],  # unknown words are scored as <unk>
        ["generate", r["char"], "--length", "3", "--prompt", "   "],  # spaces are text to a character model
        ["generate", r["ngram"], "--length", "3", "--prompt", " "],  # an n-gram model starts a sentence
        ["chat", r["chat"], "--temperature", "0.7", "--seed", "3", f"{words['chat']} ж"],
        ["eval", r["rnn"], "--file", str(tsv), "--columns", "src,ref"],  # a third column is ignored
        ["eval", r["sentiment"], "--file", str(csv)],  # and so are extra CSV columns
        # Rich markup in a path: printed as it is ("wrote ...[/]pe.png"), not read as a closing tag.
        ["plot", "pe", "--length", "4", "--d-model", "8", "-o", str(tmp_path / "[/]pe.png")],
    ]
    for argv in cases:
        COUNTS["cli-accepted"] += 1
        assert check(cli(argv), "ok").out, argv  # (a tiny chat model may well answer with blanks)
    res = check(cli(["classify", r["sentiment"], long_review]), "ok")
    assert res.err.startswith("note: review 1 has 1,200 tokens; the model reads only its first 60"), res.err


def test_the_budgets_add_up_to_10000_inputs():
    """Each fuzz test asserts it ran at least 95% of its examples, so their budgets must reach 10,000 (the
    1 MB tests and the accepted cases come on top)."""
    planned = (
        sum(v[3] for v in TEXT_VERBS.values())
        + N_STDIN * len(STDIN_VERBS)
        + sum(v[3] for v in API_TEXT.values())
        + N_API_OPTIONS * len(API_OPTIONS)
        + N_RECIPES
        + N_TRAIN_SET
        + N_RECIPE_FILES
        + sum(v[1] for v in EVAL_FILES.values())
        + N_BAD_PATHS
        + N_CORRUPT * len(USE)
        + sum(min(N_OPTIONS, len(v[2])) for v in OPTION_CASES.values())
        + N_INTERACTIVE
    )
    assert 0.95 * planned >= 10_000, planned
