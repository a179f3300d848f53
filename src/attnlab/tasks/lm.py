"""Language modelling: one text → a token stream → next-token models (n-gram, LSTM, GPT) → loss / ppl / bpc.

Split: contiguous, nanoGPT's training part — the first 90% of the characters — then validation (the next
`valid_fraction`, 5%) and test (the last `test_fraction`, 5%). Validation chooses (early stopping, the best
checkpoint, every recipe setting), test reports; the two together are nanoGPT's validation text, which
`bench/bench_lm.py` scores for its side-by-side with nanoGPT. split.json records the boundaries.

Training windows of `block_size` tokens, targets shifted by one, every position predicted:

* `sampling: random` (nanoGPT): each step draws `batch_size` random offsets from a generator seeded with
  (train.seed, global step), so a resumed run sees exactly the batches it would have seen;
* `sampling: sequential`: windows starting every `stride` tokens (default `block_size`: contiguous,
  non-overlapping chunks), shuffled once per epoch with (train.seed, epoch).

Evaluation covers a split in consecutive non-overlapping windows (each token predicted once, with 0 to
block_size-1 tokens of context; the RNN state is reset per window like in training) and reports loss
(nats/token), perplexity and bits per character (= nats / ln 2 / characters-per-token of that text).
`eval_stride` < block_size slides the windows instead, so each token is scored with at least
block_size - eval_stride tokens before it (a 40-character context is what seed 001's loss is measured on).

`model.arch: ngram` is the count-based model (attnlab.ngram.NGramLM) on the same split: it is fitted by
`fit_counts` instead of the trainer (runs.train calls it) and saved as RUN/ngram.json.

Run directory files written here (besides the trainer's): codec.json, split.json (and ngram.json).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from attnlab import decode, metrics
from attnlab.data import splits
from attnlab.data.codec import Codec
from attnlab.data.corpora import load_text
from attnlab.data.vocab import Vocab
from attnlab.data.windows import RandomWindows, SequentialWindows, scoring_windows, windows
from attnlab.decode import sample_next
from attnlab.errors import UserError
from attnlab.explain import causal_maps, check_options, float_option, int_option
from attnlab.fileio import atomic_write_json, sha256_bytes
from attnlab.models.lm import GPTConfig, GPTLanguageModel, RNNLMConfig, build_lm
from attnlab.ngram import SMOOTHINGS, NGramLM
from attnlab.tasks.base import Batch, FitReport, Task

# `score` of an n-gram model prints one factor per token: a megabyte would take minutes to print and read.
MAX_SCORE_TOKENS = 10_000


@dataclass
class LMData:
    dataset: str = "tinyshakespeare"
    tokenizer: Literal["char", "word", "subword"] = "char"
    lowercase: bool = False
    min_freq: int = 1
    max_vocab: int | None = None
    subword_vocab: int = 2000
    valid_fraction: float = 0.05  # after the first 90% (nanoGPT's training text)
    test_fraction: float = 0.05  # the very end: reported, never used to choose
    limit_chars: int | None = None  # use only the first N characters of the corpus (quick runs, tests)
    block_size: int = 64  # context window (tokens) of training and of the Transformer
    sampling: Literal["random", "sequential"] = "random"
    steps_per_epoch: int | None = None  # random: batches per epoch (default: train tokens / (batch·block))
    stride: int | None = None  # sequential: window start spacing (default block_size)
    eval_batch_size: int = 64
    eval_tokens: int | None = None  # validate on the first N tokens of the split only (faster)
    # Scoring windows move by this many tokens (default block_size: every position of consecutive windows,
    # nanoGPT's way); smaller gives every scored token >= block_size - eval_stride tokens of context.
    eval_stride: int | None = None
    segment: Literal["sentence", "line"] = "sentence"  # n-gram: what one <s> … </s> unit is

    def validate(self) -> None:
        for name in ("min_freq", "subword_vocab", "block_size", "eval_batch_size"):
            if getattr(self, name) <= 0:
                raise UserError(f"data.{name} must be positive, got {getattr(self, name)}")
        for name in ("max_vocab", "limit_chars", "steps_per_epoch", "stride", "eval_tokens", "eval_stride"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise UserError(f"data.{name} must be positive or null, got {getattr(self, name)}")
        if not 0.0 < self.valid_fraction < 1.0 or not 0.0 < self.test_fraction < 1.0:
            raise UserError("data.valid_fraction and data.test_fraction must be in (0, 1)")
        if self.valid_fraction + self.test_fraction >= 0.9:
            raise UserError("data.valid_fraction + data.test_fraction leave too little training text")


@dataclass
class NGramConfig:
    """model.arch: ngram — an `NGramLM` (see attnlab/ngram/model.py for the smoothing methods)."""

    order: int = 3
    smoothing: Literal[SMOOTHINGS] = "kneser-ney"  # type: ignore[valid-type]
    k: float = 1.0  # add-k
    discount: float | None = None  # kneser-ney: fixed D instead of the count-of-counts estimate
    min_count: int = 1  # rarer words become <unk>

    def validate(self) -> None:
        try:
            NGramLM(self.order, self.smoothing, self.k, self.discount, self.min_count)
        except ValueError as err:
            raise UserError(f"model: {err}") from None


def segments(text: str, how: str) -> list[str]:
    """n-gram units: non-empty lines, or sentences (split after . ! ? with whitespace collapsed)."""
    if how == "line":
        return [line.strip() for line in text.splitlines() if line.strip()]
    return [s for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if s]


# ------------------------------------------------------------------------------------------ task


class LanguageModelTask(Task):
    name = "lm"
    DataConfig = LMData
    MODELS = {"transformer": GPTConfig, "lstm": RNNLMConfig, "ngram": NGramConfig}
    default_arch = "transformer"
    higher_is_better = {"loss": False, "ppl": False, "bpc": False}

    VERBS = frozenset({"generate", "score", "explain"})

    def fitted(self) -> bool:  # count-based models are counted in one pass, not trained
        return self.recipe.arch == "ngram"

    @property
    def codec_path(self) -> Path:
        return self.run_dir / "codec.json"

    @property
    def model_path(self) -> Path:
        return self.run_dir / "ngram.json"

    # ---------------------------------------------------------------------------------------- data

    def load_codecs(self) -> None:
        self.codec = Codec.load(self.codec_path)

    def _split_text(self) -> dict[str, str]:
        d = self.recipe.data
        text = load_text(d.dataset)
        if d.limit_chars is not None:
            text = text[: d.limit_chars]
        n = len(text)
        test_at = n - int(n * d.test_fraction)
        valid_at = test_at - int(n * d.valid_fraction)
        parts = {"train": text[:valid_at], "valid": text[valid_at:test_at], "test": text[test_at:]}
        fingerprint = sha256_bytes(text.encode("utf-8", "surrogatepass"))
        splits.recorded(self.run_dir, fingerprint, d.dataset)  # refuses an old or foreign split
        self.split_record = {
            "dataset": d.dataset,
            "version": splits.VERSION,
            "characters": n,
            "fingerprint": fingerprint,
            "convention": "contiguous: train, then valid, then test at the end of the text",
            "train": [0, valid_at],
            "valid": [valid_at, test_at],
            "test": [test_at, n],
        }
        return parts

    def _build_codec(self, train_text: str) -> Codec:
        d = self.recipe.data
        if self.recipe.arch == "ngram":
            texts = segments(train_text, d.segment)
        elif d.tokenizer == "subword":
            texts = train_text.splitlines()
        else:
            texts = [train_text]
        kind = "word" if d.tokenizer == "subword" and self.recipe.arch == "ngram" else d.tokenizer
        return Codec.build(texts, kind=kind, lowercase=d.lowercase, min_freq=d.min_freq, max_size=d.max_vocab,
                           subword_vocab=d.subword_vocab)  # fmt: skip

    def encode_text(self, text: str) -> torch.Tensor:
        """The whole text as one id stream (subword: whitespace, newlines included, become single spaces)."""
        return torch.tensor(self.codec.encode(text), dtype=torch.long)

    def prepare(self, *, write: bool = True) -> None:
        self.texts = self._split_text()
        if self.codec_path.exists():
            self.load_codecs()
        else:
            self.codec = self._build_codec(self.texts["train"])
            if write:
                self.codec.save(self.codec_path)
        if write:
            atomic_write_json(self.run_dir / "split.json", self.split_record)
        if self.recipe.arch == "ngram":
            self.sentences = {k: self._sentences(v) for k, v in self.texts.items()}
            return
        self.ids = {k: self.encode_text(v) for k, v in self.texts.items()}
        block = self.recipe.data.block_size
        if len(self.ids["train"]) <= block + 1:
            raise UserError(f"the training text has {len(self.ids['train'])} tokens, not more than "
                            f"data.block_size={block}; use more text or a smaller block_size")  # fmt: skip

    def _sentences(self, text: str) -> list[list[str]]:
        return [t for t in (self.codec.tokens(s) for s in segments(text, self.recipe.data.segment)) if t]

    def train_batches(self, epoch: int) -> Sequence[Batch]:
        d, t = self.recipe.data, self.recipe.train
        data = self.ids["train"]
        if d.sampling == "random":
            n = d.steps_per_epoch or max(1, len(data) // (t.batch_size * d.block_size))
            return RandomWindows(data, d.block_size, t.batch_size, n, t.seed, epoch)
        return SequentialWindows(data, d.block_size, t.batch_size, d.stride or d.block_size, t.seed, epoch)

    # ---------------------------------------------------------------------------------------- model

    def build_model(self) -> nn.Module:
        if self.recipe.arch == "ngram":
            return NGramLM.load(self.model_path)
        return build_lm(
            self.recipe.arch, self.recipe.model, len(self.codec.vocab), self.recipe.data.block_size
        )

    def model_dim(self) -> int:
        return getattr(self.recipe.model, "d_model", getattr(self.recipe.model, "hidden", 128))

    # ---------------------------------------------------------------------------------------- loss

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        logits, _ = model(batch["x"])
        return F.cross_entropy(logits.flatten(0, 1).float(), batch["y"].flatten(), reduction="sum",
                               label_smoothing=self.recipe.train.label_smoothing)  # fmt: skip

    @torch.no_grad()
    def nats(self, model: nn.Module, ids: torch.Tensor) -> tuple[float, int]:
        """Summed negative log-likelihood of ids[1:] and the count, in `scoring_windows` of block_size
        moving by data.eval_stride; windows of one shape go through the model together."""
        model.eval()
        device = next(model.parameters()).device
        d = self.recipe.data
        groups: dict[tuple[int, int], list[int]] = {}
        for start, length, keep in scoring_windows(len(ids) - 1, d.block_size, d.eval_stride):
            groups.setdefault((length, keep), []).append(start)
        total, count = 0.0, 0
        for (length, keep), starts in groups.items():
            for i in range(0, len(starts), d.eval_batch_size):
                b = windows(ids, np.array(starts[i : i + d.eval_batch_size]), length).to(device)
                logits, _ = model(b["x"])
                y = b["y"][:, -keep:]
                total += float(
                    F.cross_entropy(logits[:, -keep:].flatten(0, 1).float(), y.flatten(), reduction="sum")
                )
                count += y.numel()
        return total, count

    def _lm_metrics(self, nats: float, tokens: int, chars_per_token: float) -> dict:
        loss = nats / max(tokens, 1)
        return {"loss": loss, "ppl": metrics.perplexity(loss), "bpc": loss / math.log(2) / chars_per_token}

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: str = "valid") -> dict:
        ids = self.ids[split]
        limit = self.recipe.data.eval_tokens
        if limit is not None:
            ids = ids[: limit + 1]
        nats, count = self.nats(model, ids)
        return self._lm_metrics(nats, count, len(self.texts[split]) / len(self.ids[split]))

    # ---------------------------------------------------------------------------------------- n-gram

    def fit(self) -> FitReport:
        """Count the n-gram model on the training sentences (prepared by attnlab.runs), save, validate."""
        m = self.recipe.model
        lm = NGramLM(m.order, m.smoothing, m.k, m.discount, m.min_count).fit(self.sentences["train"])
        lm.save(self.model_path)
        valid = None if m.smoothing == "stupid-backoff" else self.report(lm, split="valid")
        tokens = sum(len(s) + 1 for s in self.sentences["train"])
        return FitReport([self.model_path, self.codec_path], tokens, "ppl", valid and valid["ppl"], valid,
                         {"train_tokens": tokens, "vocab": len(lm.vocab)})  # fmt: skip

    def load_fitted(self) -> tuple[NGramLM, Path]:
        return NGramLM.load(self.model_path), self.model_path

    # ---------------------------------------------------------------------------------------- use

    def _read_file(self, file) -> str:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UserError(f"--file {file} is not UTF-8 text") from None
        if not text.strip():
            raise UserError(f"--file {file} is empty")
        return text

    def report(self, model, *, split: str = "test", file=None) -> dict:
        """Loss, perplexity and bits per character of `split` (or of a plain-text `file`)."""
        text = self._read_file(file) if file is not None else self.texts[split]
        if isinstance(model, NGramLM):
            sents = self._sentences(text)
            if not sents:
                raise UserError("no tokens to evaluate")
            if model.smoothing == "stupid-backoff":
                raise UserError("stupid-backoff scores are not probabilities: it has no perplexity")
            rep = model.evaluate(sents)
            chars = sum(len(s) for s in segments(text, self.recipe.data.segment))
            loss = -rep.log_prob / rep.n_tokens
            return {"loss": loss, "ppl": rep.perplexity, "bpc": -rep.log_prob / math.log(2) / max(chars, 1),
                    "log_prob": rep.log_prob, "tokens": rep.n_tokens, "oov": rep.n_oov, "zero_prob": rep.n_zero,
                    "sentences": len(sents), "order": model.order, "smoothing": model.smoothing}  # fmt: skip
        ids = self.encode_text(text) if file is not None else self.ids[split]
        if len(ids) < 2:
            raise UserError("the text has fewer than 2 tokens: nothing to predict")
        nats, count = self.nats(model, ids)
        return {**self._lm_metrics(nats, count, len(text) / len(ids)), "tokens": count, "characters": len(text),
                "tokenizer": self.recipe.data.tokenizer}  # fmt: skip

    def _unknown_only(self, ids: list[int]) -> bool:
        """True when the text has unknown tokens and nothing known but whitespace: to a character model
        "ж ж" is two unknown letters, so the known space between them must not make it look like text."""
        vocab = self.codec.vocab
        return Vocab.UNK in ids and all(i == Vocab.UNK or not vocab.id_to_token(i).strip() for i in ids)

    def _start_ids(self, prompt: str) -> list[int]:
        ids = self.codec.encode(prompt) if prompt else []
        if prompt and not ids:
            raise UserError(f"the prompt {prompt[:60]!r} has no tokens after normalisation")
        if ids and self._unknown_only(ids):
            raise UserError(f"none of the prompt's tokens ({prompt[:60]!r}) are in the model's vocabulary")
        if not ids:
            if self.recipe.data.tokenizer != "char":
                raise UserError("give a --prompt: only character models can start from nothing")
            if "\n" not in self.codec.vocab:
                raise UserError("this model never saw a newline; give a --prompt to start from")
            ids = [self.codec.vocab.token_to_id("\n")]
        return ids

    def prompt_limit_note(self, model, prompt: str) -> str | None:
        """A message when the prompt is longer than the Transformer's context (it is truncated)."""
        ctx = getattr(model, "context", None)
        if ctx is None:
            return None
        n = len(self._start_ids(prompt))  # refuses a prompt the model cannot start from before any note
        if n > ctx:
            return f"note: the prompt has {n} tokens; only its last {ctx} (the model's context) are used"
        return None

    @torch.no_grad()
    def generate(self, model, prompt: str = "", *, length: int = 200, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, seed: int | None = None) -> str:  # fmt: skip
        """Continue `prompt` by `length` tokens; returns the continuation only (detokenised).

        Transformer: the prompt fills the KV cache once, then one token per step; when the window of
        block_size tokens is full it slides: the cache is rebuilt from the last block_size/2 tokens.
        Prompts longer than block_size keep their last block_size tokens. LSTM: the state is carried.
        """
        if not 0.0 <= temperature < math.inf:  # NaN fails this too
            raise UserError(f"--temperature must be a finite number >= 0 (0 = greedy), got {temperature}")
        if top_k is not None and top_k < 1:
            raise UserError(f"--top-k must be at least 1, got {top_k}")
        if top_p is not None and not 0.0 < top_p <= 1.0:
            raise UserError(f"--top-p must be in (0, 1], got {top_p}")
        if length < 0:
            raise UserError(f"--length must be >= 0, got {length}")
        decode.check_seed(seed)
        gen = torch.Generator().manual_seed(seed) if seed is not None else None

        def pick(logits: torch.Tensor) -> int:
            if temperature == 0:
                return int(logits.argmax(-1))
            return int(sample_next(logits[None], temperature=temperature, top_k=top_k, top_p=top_p,
                                   generator=gen)[0])  # fmt: skip

        if isinstance(model, NGramLM):
            return self._generate_ngram(model, prompt, length, pick)
        model.eval()
        device = next(model.parameters()).device
        ids = self._start_ids(prompt)
        ctx = getattr(model, "context", None)
        if ctx is not None:
            ids = ids[-ctx:]
        history = list(ids)
        state = model.init_state() if isinstance(model, GPTLanguageModel) else None
        logits, state = model(torch.tensor([ids], device=device), state)
        out: list[int] = []
        for _ in range(length):
            last = logits[0, -1].float().cpu()
            last[: len(Vocab.SPECIALS)] = -math.inf  # never emit <pad> <unk> <bos> <eos>
            nxt = pick(last)
            out.append(nxt)
            history.append(nxt)
            if ctx is not None and state[0].length + 1 > ctx:  # window full: slide
                keep = history[-max(1, ctx // 2) :]
                logits, state = model(torch.tensor([keep], device=device), model.init_state())
            else:
                logits, state = model(torch.tensor([[nxt]], device=device), state)
        return self.codec.decode(out)

    EXPLAIN_TOKENS = 64  # the explorer draws attention over at most this many tokens (a 64 × 64 map)

    def explain(self, model, text: str, **opts) -> dict:
        """The explorer's view: `text` is the prompt; the result is a sampled continuation and, for the
        Transformer, each layer's causal self-attention over the last EXPLAIN_TOKENS tokens of prompt + output."""
        check_options(opts, {"length", "temperature", "top_k", "top_p", "seed"}, self.name)
        top_k = opts.get("top_k")
        text_out = self.generate(
            model, text, length=int_option(opts, "length", 80, 1, 500),
            temperature=float_option(opts, "temperature", 0.8, 0.0, 2.0),
            top_k=None if top_k is None else int_option(opts, "top_k", 0, 1, 100_000),
            top_p=float_option(opts, "top_p", None, 0.0, 1.0), seed=int_option(opts, "seed", 0, 0, 2**31 - 1),
        )  # fmt: skip
        maps = []
        if self.recipe.arch == "transformer":
            ids = self.codec.encode(text + text_out)[-min(self.EXPLAIN_TOKENS, model.context) :]
            maps = causal_maps(model, ids, [self.codec.vocab.tokens[i] for i in ids])
        return {
            "task": self.name,
            "input": text,
            "result": {"text": text_out, "prompt": text},
            "attention": maps,
        }

    def _generate_ngram(self, lm: NGramLM, prompt: str, length: int, pick) -> str:
        """Sample from P(· | last n-1 tokens) with the same sampler; </s> starts a new sentence."""
        from attnlab.ngram.counts import BOS_ID, EOS_ID, UNK_ID

        tokens = self.codec.tokens(prompt) if prompt else []
        if tokens and all(lm.vocab.id(t) == UNK_ID for t in tokens):
            raise UserError(f"none of the prompt's tokens ({prompt[:60]!r}) are in the model's vocabulary")
        n_ctx = lm.order - 1
        ctx = ["<s>"] * n_ctx + tokens
        words: list[list[str]] = [[]]
        produced = 0
        while produced < length:
            p = torch.from_numpy(lm.next_distribution(ctx[len(ctx) - n_ctx :] if n_ctx else []))
            logits = torch.log(p.float().clamp_min(0))
            logits[[BOS_ID, UNK_ID]] = -math.inf
            nxt = pick(logits)
            produced += 1
            if nxt == EOS_ID:
                words.append([])
                ctx = ["<s>"] * n_ctx
                continue
            words[-1].append(lm.vocab[nxt])
            ctx.append(lm.vocab[nxt])
        sep = "\n" if self.recipe.data.segment == "line" else " "
        return sep.join(self.codec.tokenizer.detokenize(w) for w in words if w)

    @torch.no_grad()
    def score(self, model, text: str) -> tuple[list[tuple[str, str, float]], float]:
        """Chain-rule factors (token, context shown, probability) of `text` and its total log-probability."""
        if not text.strip():
            raise UserError("give a non-empty sentence to score")
        if isinstance(model, NGramLM):
            tokens = self.codec.tokens(text)
            if len(tokens) > MAX_SCORE_TOKENS:
                raise UserError(
                    f"the text has {len(tokens):,} tokens; score shows one factor per token, so give at most "
                    f"{MAX_SCORE_TOKENS:,} (for the perplexity of a long text: attnlab eval RUN --file FILE)"
                )
            res = model.score_sentence(tokens)
            return [(f.word, " ".join(f.context), f.prob) for f in res.factors], res.log_prob
        ids = self._start_ids("") if self.recipe.data.tokenizer == "char" and "\n" in self.codec.vocab else []
        body = self.codec.encode(text)
        if self._unknown_only(body):
            raise UserError(f"none of the tokens of {text[:60]!r} are in the model's vocabulary")
        ids = ids + body
        if len(ids) < 2:
            raise UserError("give at least two tokens to score (the first one is the context)")
        ctx = getattr(model, "context", None)
        if ctx is not None and len(ids) > ctx:
            raise UserError(f"the text has {len(ids)} tokens, more than the model's context of {ctx}; "
                            "score a shorter text")  # fmt: skip
        model.eval()
        logits, _ = model(torch.tensor([ids], device=next(model.parameters()).device))
        logp = F.log_softmax(logits[0, :-1].float(), -1).gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
        toks = [self.codec.vocab.id_to_token(i) for i in ids]
        show = (lambda t: repr(t)[1:-1]) if self.recipe.data.tokenizer == "char" else str
        joiner = "" if self.recipe.data.tokenizer == "char" else " "
        factors = [(show(toks[i + 1]), joiner.join(show(t) for t in toks[max(0, i - 7) : i + 1]),
                    math.exp(float(lp))) for i, lp in enumerate(logp)]  # fmt: skip
        return factors, float(logp.sum())
