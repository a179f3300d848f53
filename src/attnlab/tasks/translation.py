"""Translation: pairs -> codecs -> length-bucketed batches -> seq2seq model -> BLEU / chrF.

Run directory files written here (besides the trainer's):
    codec-src.json, codec-tgt.json   tokenizer + vocabulary of each side
    split.json                       how the pairs were split (seed, sizes, valid/test indices)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from attnlab import decode, metrics
from attnlab.data.batching import bucket_batches, pad_batch, split_indices
from attnlab.data.codec import Codec
from attnlab.data.corpora import load_translation
from attnlab.data.vocab import Vocab
from attnlab.errors import UserError
from attnlab.models.seq2seq import RNNSeq2Seq, RNNSeq2SeqConfig
from attnlab.models.transformer import TransformerSeq2Seq, TransformerSeq2SeqConfig
from attnlab.tasks.base import Batch, Task
from attnlab.train.checkpoint import atomic_write_json

MAX_BEAM = 64  # widest beam search `translate` runs (the CLI's --beam limit too)


@dataclass
class TranslationData:
    dataset: str = "spa-eng"
    src: str = "es"
    tgt: str = "en"
    tokenizer: Literal["word", "char", "subword"] = "word"
    lowercase: bool = True
    strip_accents: bool = True
    min_freq: int = 1
    max_vocab: int | None = None
    subword_vocab: int = 8000
    max_len: int | None = 20  # drop training pairs longer than this (tokens, either side)
    limit: int | None = None  # keep a random subset of this many pairs (after filtering)
    split: list[float] = field(default_factory=lambda: [0.9, 0.05, 0.05])  # used when the corpus has no split
    split_seed: int = 1234
    max_input_tokens: int = 200  # longest input `translate` accepts
    max_output_ratio: float = 2.0  # search stops at max_output_ratio * source length + 10 tokens
    eval_batch_size: int = 128
    valid_bleu_sentences: int = 500  # validation also decodes this many sentences for BLEU (0 = loss only)
    on_error: Literal["raise", "skip"] = "raise"  # a malformed line in the data files: stop, or skip + count

    def validate(self) -> None:
        for name in ("min_freq", "subword_vocab", "max_input_tokens", "eval_batch_size"):
            if getattr(self, name) <= 0:
                raise UserError(f"data.{name} must be positive, got {getattr(self, name)}")
        for name in ("max_len", "limit", "max_vocab"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise UserError(f"data.{name} must be positive or null, got {getattr(self, name)}")
        if self.valid_bleu_sentences < 0:
            raise UserError("data.valid_bleu_sentences must be >= 0")
        if not 0.0 < self.max_output_ratio <= 100.0:  # NaN fails this too
            raise UserError(f"data.max_output_ratio must be in (0, 100], got {self.max_output_ratio}")
        if self.split_seed < 0:  # numpy's generators take no negative seed
            raise UserError(f"data.split_seed must be >= 0, got {self.split_seed}")


@dataclass
class Encoded:
    """One split, encoded: source ids, target ids (no specials), and the raw text for BLEU."""

    src: list[list[int]]
    tgt: list[list[int]]
    src_text: list[str]
    tgt_text: list[str]


class TranslationTask(Task):
    name = "translation"
    DataConfig = TranslationData
    MODELS = {"rnn": RNNSeq2SeqConfig, "transformer": TransformerSeq2SeqConfig}
    default_arch = "rnn"
    higher_is_better = {"loss": False, "ppl": False, "bleu": True, "chrf": True}

    # ------------------------------------------------------------------------------------------ data

    def _codec_paths(self):
        return self.run_dir / "codec-src.json", self.run_dir / "codec-tgt.json"

    def load_codecs(self) -> None:
        src_path, tgt_path = self._codec_paths()
        self.src_codec, self.tgt_codec = Codec.load(src_path), Codec.load(tgt_path)

    def _splits(self) -> dict[str, list[tuple[str, str]]]:
        d = self.recipe.data
        corpus = load_translation(d.dataset, d.src, d.tgt, on_error=d.on_error)
        if "all" not in corpus:
            return corpus
        return self._split_pairs(corpus["all"])

    def _split_pairs(self, pairs: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
        """A seeded random subset (data.limit), then the seeded train/valid/test split; the row numbers go to
        self.split_record (written to split.json)."""
        d = self.recipe.data
        if d.limit is not None and d.limit < len(pairs):
            keep = np.sort(np.random.default_rng(d.split_seed).permutation(len(pairs))[: d.limit])
            pairs = [pairs[i] for i in keep]
        parts = split_indices(len(pairs), d.split, seed=d.split_seed)
        self.split_record = {
            "dataset": d.dataset,
            "seed": d.split_seed,
            "fractions": d.split,
            "limit": d.limit,
            "sizes": {k: len(v) for k, v in parts.items()},
            "valid": parts["valid"].tolist(),
            "test": parts["test"].tolist(),
        }
        return {name: [pairs[i] for i in idx] for name, idx in parts.items()}

    def prepare(self, *, write: bool = True) -> None:
        d = self.recipe.data
        self.split_record = None
        raw = self._splits()
        src_path, tgt_path = self._codec_paths()
        if src_path.exists() and tgt_path.exists():  # resuming, or using a trained run
            self.load_codecs()
        else:
            train = raw["train"]
            kw = dict(
                kind=d.tokenizer,
                lowercase=d.lowercase,
                min_freq=d.min_freq,
                max_size=d.max_vocab,
                subword_vocab=d.subword_vocab,
            )
            self.src_codec = Codec.build([s for s, _ in train], strip_accents=d.strip_accents, **kw)
            self.tgt_codec = Codec.build([t for _, t in train], strip_accents=d.strip_accents, **kw)
            if write:
                self.src_codec.save(src_path)
                self.tgt_codec.save(tgt_path)
        if write and self.split_record is not None:
            atomic_write_json(self.run_dir / "split.json", self.split_record)
        self.data = {name: self._encode(pairs, train=name == "train") for name, pairs in raw.items()}
        if not self.data["train"].src:
            raise UserError(f"no training pairs left after filtering with data.max_len={d.max_len}; raise it")

    def _encode(self, pairs, *, train: bool) -> Encoded:
        max_len = self.recipe.data.max_len if train else None
        out = Encoded([], [], [], [])
        for s, t in pairs:
            si, ti = self.src_codec.encode(s), self.tgt_codec.encode(t)
            if not si or not ti or (max_len is not None and max(len(si), len(ti)) > max_len):
                continue
            out.src.append(si)
            out.tgt.append(ti)
            out.src_text.append(s)
            out.tgt_text.append(t)
        return out

    def _batch(self, enc: Encoded, idx) -> Batch:
        src, src_len = pad_batch([enc.src[i] for i in idx])
        tgt_in, _ = pad_batch([[Vocab.BOS, *enc.tgt[i]] for i in idx])
        tgt_out, tgt_len = pad_batch([[*enc.tgt[i], Vocab.EOS] for i in idx])
        units = int(tgt_len.sum())
        return Batch(
            {"src": src, "src_len": src_len, "tgt_in": tgt_in, "tgt_out": tgt_out},
            units,
            units + int(src_len.sum()),
            {"index": list(map(int, idx))},
        )

    def _batches(self, split: str, *, epoch: int, shuffle: bool, batch_size: int) -> list[Batch]:
        enc = self.data[split]
        lengths = [max(len(s), len(t)) for s, t in zip(enc.src, enc.tgt, strict=True)]
        order = bucket_batches(
            lengths,
            batch_size,
            seed=self.recipe.train.seed,
            epoch=epoch,
            shuffle=shuffle,
            max_tokens=self.recipe.train.max_tokens if shuffle else None,
        )
        return [self._batch(enc, idx) for idx in order]

    def epoch_batches(self, epoch: int) -> list[Batch]:
        return self._batches("train", epoch=epoch, shuffle=True, batch_size=self.recipe.train.batch_size)

    # ------------------------------------------------------------------------------------------ model

    def build_model(self) -> nn.Module:
        cfg = self.recipe.model
        cls = TransformerSeq2Seq if self.recipe.arch == "transformer" else RNNSeq2Seq
        try:
            return cls(cfg, len(self.src_codec.vocab), len(self.tgt_codec.vocab))
        except ValueError as err:
            raise UserError(f"model: {err}") from None

    def model_dim(self) -> int:
        return getattr(self.recipe.model, "d_model", getattr(self.recipe.model, "hidden", 512))

    # ------------------------------------------------------------------------------------------ loss

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        logits, _ = model(batch["src"], batch["src_len"], batch["tgt_in"])
        return F.cross_entropy(
            logits.flatten(0, 1).float(),
            batch["tgt_out"].flatten(),
            ignore_index=Vocab.PAD,
            reduction="sum",
            label_smoothing=self.recipe.train.label_smoothing,
        )

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: str = "valid", *, bleu_sentences: int | None = None) -> dict:
        model.eval()
        device = next(model.parameters()).device
        total, units = 0.0, 0
        for batch in self._batches(
            split, epoch=0, shuffle=False, batch_size=self.recipe.data.eval_batch_size
        ):
            batch = batch.to(device)
            logits, _ = model(batch["src"], batch["src_len"], batch["tgt_in"])
            total += float(
                F.cross_entropy(
                    logits.flatten(0, 1).float(),
                    batch["tgt_out"].flatten(),
                    ignore_index=Vocab.PAD,
                    reduction="sum",
                )
            )
            units += batch.units
        loss = total / max(units, 1)
        out = {"loss": loss, "ppl": metrics.perplexity(loss)}
        n = self.recipe.data.valid_bleu_sentences if bleu_sentences is None else bleu_sentences
        if n:
            enc = self.data[split]
            srcs, refs = enc.src_text[:n], enc.tgt_text[:n]
            hyps = [h[0].text for h in self.translate(model, srcs, beam=1, attention=False)]
            out["bleu"] = metrics.bleu(hyps, [self.reference(r) for r in refs])
            out["chrf"] = metrics.chrf(hyps, [self.reference(r) for r in refs])
        return out

    # ------------------------------------------------------------------------------------------ use

    def reference(self, text: str) -> str:
        """The reference as the model is asked to produce it (same normalisation), detokenised for BLEU."""
        return self.tgt_codec.tokenizer.detokenize(self.tgt_codec.tokens(text))

    def encode_source(self, texts: list[str]) -> tuple[list[list[int]], list[list[str]]]:
        """Validate and encode user input; every failure is a one-line UserError."""
        limit = self.recipe.data.max_input_tokens
        ids, toks = [], []
        for text in texts:
            tokens = self.src_codec.tokens(text)
            if not tokens:
                raise UserError("empty input: give a sentence to translate")
            if len(tokens) > limit:
                raise UserError(
                    f"input has {len(tokens)} tokens, more than the {limit} this model accepts; "
                    "split it into sentences"
                )
            encoded = self.src_codec.encode(tokens)
            if all(i == Vocab.UNK for i in encoded):
                raise UserError(
                    f"none of the words in {text[:60]!r} are in the source vocabulary "
                    f"({self.recipe.data.src}); check the input language"
                )
            ids.append(encoded)
            toks.append([t if i != Vocab.UNK else "<unk>" for t, i in zip(tokens, encoded, strict=True)])
        return ids, toks

    def search_limits(self) -> dict:
        """Output-length limits passed to decode.py (ratio/offset/cap); tasks may override."""
        return {"max_len_ratio": self.recipe.data.max_output_ratio}

    @torch.no_grad()
    def translate(
        self,
        model: nn.Module,
        texts: list[str],
        *,
        beam: int = 1,
        n_best: int = 1,
        alpha: float = 0.6,
        batch_size: int = 64,
        attention: bool = True,
    ) -> list[list[Translation]]:
        """Translate `texts`; returns the n-best list of each, with tokens and (unless `attention` is
        False, as when only BLEU is wanted) attention."""
        if not 1 <= n_best <= beam <= MAX_BEAM:  # a huge beam would exhaust memory, not fail
            raise UserError(f"need 1 <= n_best <= beam <= {MAX_BEAM}, got beam={beam}, n_best={n_best}")
        if not 0.0 <= alpha < math.inf:  # NaN fails this too
            raise UserError(f"alpha (the length penalty) must be a finite number >= 0, got {alpha}")
        if batch_size < 1:
            raise UserError(f"batch_size must be positive, got {batch_size}")
        model.eval()
        device = next(model.parameters()).device
        ids, toks = self.encode_source(texts)
        results: list[list[Translation]] = []
        for start in range(0, len(ids), batch_size):
            chunk = ids[start : start + batch_size]
            src, src_len = pad_batch(chunk)
            src, src_len = src.to(device), src_len.to(device)
            if beam == 1:
                limits = self.search_limits()
                nbest = [[h] for h in decode.greedy(model, src, src_len, attention=attention, **limits)]
            else:
                nbest = decode.beam_search(
                    model, src, src_len, beam=beam, n_best=n_best, alpha=alpha, attention=attention,
                    **self.search_limits(),
                )  # fmt: skip
            for j, hyps in enumerate(nbest):
                src_tokens = toks[start + j]
                results.append([self._translation(h, src_tokens) for h in hyps])
        return results

    def _translation(self, h: decode.Hypothesis, src_tokens: list[str]) -> Translation:
        out_tokens = self.tgt_codec.vocab.decode(h.tokens, strip_specials=False, stop_at_eos=True)
        return Translation(
            text=self.tgt_codec.tokenizer.detokenize(out_tokens),
            src_tokens=src_tokens,
            tgt_tokens=[*out_tokens, "<eos>"]
            if h.attention is not None and len(h.attention) > len(out_tokens)
            else out_tokens,
            score=h.score,
            attention=None if h.attention is None else h.attention.float().cpu(),
        )


@dataclass
class Translation:
    text: str
    src_tokens: list[str]
    tgt_tokens: list[str]  # one per attention row (</s> included when produced)
    score: float
    attention: torch.Tensor | None  # (T_out, S) for RNNs, (T_out, layers, heads, S) for Transformers


def read_eval_file(path) -> list[tuple[str, str]]:
    """`--file`: tab-separated `source<TAB>reference` lines (the corpus' own column order is not assumed)."""
    from attnlab.data.readers import read_tsv_pairs

    rows = read_tsv_pairs(path).rows
    if not rows:  # only blank lines (Unicode whitespace such as U+0085 is blank too)
        raise UserError(f"{path}: no `source<TAB>reference` lines to evaluate")
    return rows


def report(
    task: TranslationTask,
    model: nn.Module,
    pairs: list[tuple[str, str]],
    *,
    beam: int = 1,
    by_length: bool = False,
) -> dict:
    """Corpus BLEU / chrF (sacreBLEU, detokenised) of translating `pairs`, optionally per length bucket."""
    srcs = [s for s, _ in pairs]
    refs = [task.reference(r) for _, r in pairs]
    hyps = [n[0].text for n in task.translate(model, srcs, beam=beam, attention=False)]
    result = {
        "sentences": len(pairs),
        "beam": beam,
        "bleu": metrics.bleu(hyps, refs),
        "bleu_lowercase": metrics.bleu(hyps, refs, lowercase=True),
        "chrf": metrics.chrf(hyps, refs),
        "signature": metrics.bleu_signature(),
        "examples": [
            {"src": s, "ref": r, "hyp": h} for s, r, h in list(zip(srcs, refs, hyps, strict=True))[:5]
        ],
    }
    if by_length:
        lengths = [len(task.src_codec.tokens(s)) for s in srcs]
        result["by_length"] = metrics.bleu_by_length(hyps, refs, lengths)
    return result
