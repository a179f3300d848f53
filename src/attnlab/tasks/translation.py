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
from attnlab.data import splits
from attnlab.data.batching import bucket_batches, pad_batch
from attnlab.data.codec import Codec
from attnlab.data.corpora import load_translation, read_eval_pairs
from attnlab.data.vocab import Vocab
from attnlab.errors import UserError
from attnlab.explain import (
    REQUEST_MAX_BEAM,
    check_options,
    float_option,
    int_option,
    rnn_seq2seq_maps,
    transformer_seq2seq_maps,
)
from attnlab.fileio import atomic_write_json
from attnlab.models.seq2seq import RNNSeq2Seq, RNNSeq2SeqConfig
from attnlab.models.transformer import TransformerSeq2Seq, TransformerSeq2SeqConfig
from attnlab.tasks.base import Batch, Task

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
    VERBS = frozenset({"translate", "explain"})
    higher_is_better = {"loss": False, "ppl": False, "bleu": True, "chrf": True}

    # ------------------------------------------------------------------------------------------ data

    def _codec_paths(self):
        return self.run_dir / "codec-src.json", self.run_dir / "codec-tgt.json"

    def load_codecs(self) -> None:
        src_path, tgt_path = self._codec_paths()
        self.src_codec, self.tgt_codec = Codec.load(src_path), Codec.load(tgt_path)

    # Rows whose normalised value in these columns match are one group (data/splits.py): translation
    # groups by source *or* target, chat by question only (a known answer to a new question is fine).
    GROUP_COLUMNS: tuple[int, ...] = (0, 1)
    GROUPED_BY = "source or target"

    def _splits(self) -> dict[str, list[tuple[str, str]]]:
        d = self.recipe.data
        corpus = load_translation(d.dataset, d.src, d.tgt, on_error=d.on_error)
        if "all" not in corpus:  # an official split (Multi30k): kept, its overlap recorded
            self.split_record = {
                "dataset": d.dataset,
                "version": splits.VERSION,
                "grouping": "official",
                "sizes": {k: len(v) for k, v in corpus.items()},
                "overlap": splits.overlap_counts(
                    corpus["train"], {k: corpus[k] for k in ("valid", "test")}, {"source": 0, "target": 1}
                ),
            }
            return corpus
        return self._split_pairs(corpus["all"])

    def _split_pairs(self, pairs: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
        """The grouped train/valid/test split of all rows (data/splits.py), then, with data.limit, a seeded
        sample of each part in proportion. A run that has a split.json keeps the valid/test rows recorded
        there (after checking they come from the same rows); the record goes to self.split_record."""
        d = self.recipe.data
        parts = splits.grouped_split(pairs, self.GROUP_COLUMNS, d.split, seed=d.split_seed)
        if d.limit is not None and d.limit < len(pairs):
            parts = {
                name: idx[splits.sample_indices(len(idx), round(d.limit * f), seed=d.split_seed + i)]
                for i, ((name, idx), f) in enumerate(zip(parts.items(), d.split, strict=True))
            }
        fingerprint = splits.fingerprint(pairs)
        recorded = splits.recorded(self.run_dir, fingerprint, d.dataset)
        if recorded is not None:
            parts.update({name: np.asarray(recorded[name], dtype=np.int64) for name in ("valid", "test")})
        named = {name: [pairs[i] for i in idx] for name, idx in parts.items()}
        self.split_record = {
            "dataset": d.dataset,
            "version": splits.VERSION,
            "grouping": splits.GROUPING.format(cols=self.GROUPED_BY),
            "rows": len(pairs),
            "fingerprint": fingerprint,
            "seed": d.split_seed,
            "fractions": d.split,
            "limit": d.limit,
            "sizes": {k: len(v) for k, v in parts.items()},
            "overlap": splits.overlap_counts(
                named["train"], {k: named[k] for k in ("valid", "test")}, {"source": 0, "target": 1}
            ),
            "valid": parts["valid"].tolist(),
            "test": parts["test"].tolist(),
        }
        return named

    def _build_codecs(self, train: list[tuple[str, str]]) -> tuple[Codec, Codec]:
        """One tokenizer + vocabulary per side, fitted on the training pairs only."""
        d = self.recipe.data
        kw = dict(kind=d.tokenizer, lowercase=d.lowercase, strip_accents=d.strip_accents, min_freq=d.min_freq,
                  max_size=d.max_vocab, subword_vocab=d.subword_vocab)  # fmt: skip
        return Codec.build([s for s, _ in train], **kw), Codec.build([t for _, t in train], **kw)

    def prepare(self, *, write: bool = True) -> None:
        d = self.recipe.data
        self.split_record = None
        raw = self._splits()
        src_path, tgt_path = self._codec_paths()
        if src_path.exists() and tgt_path.exists():  # resuming, or using a trained run
            self.load_codecs()
        else:
            self.src_codec, self.tgt_codec = self._build_codecs(raw["train"])
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
            # A fixed seeded sample spread over the whole split: spa.txt is sorted by length and
            # ChatbotData by label, so the first n would choose checkpoints on the easiest sentences.
            pick = splits.sample_indices(len(enc.src_text), n, seed=self.recipe.data.split_seed)
            srcs, refs = [enc.src_text[i] for i in pick], [enc.tgt_text[i] for i in pick]
            hyps = [h[0].text for h in self.translate(model, srcs, beam=1, attention=False)]
            out["bleu"] = metrics.bleu(hyps, [self.reference(r) for r in refs])
            out["chrf"] = metrics.chrf(hyps, [self.reference(r) for r in refs])
        return out

    # ------------------------------------------------------------------------------------------ eval

    EVAL_OPTIONS = frozenset({"beam", "by_length", "columns"})
    # A file is called swapped when, for more than this share of its sampled lines, the model finds the
    # reference likelier with the columns read the other way round (a clear majority: a model that cannot
    # tell the directions apart sits near one half and is never refused).
    SWAP_SHARE = 0.7
    SWAP_SAMPLE = 200  # pairs scored each way

    def report(
        self,
        model: nn.Module,
        *,
        split: str = "test",
        file=None,
        beam: int = 1,
        by_length: bool = False,
        columns: str | None = None,
    ) -> dict:
        """`attnlab eval`: BLEU / chrF (multi-reference) and loss on a held-out split, or on a user's file
        read in the dataset's own layout (or `columns`) after checking its columns are not swapped."""
        if file is not None:
            d = self.recipe.data
            pairs, layout = read_eval_pairs(file, d.dataset, d.src, d.tgt, columns)
            check = self.check_columns(model, pairs, file)
            return {**score_pairs(self, model, pairs, beam=beam, by_length=by_length), "layout": layout,
                    "column_check": check}  # fmt: skip
        if not hasattr(self, "data"):
            raise UserError(
                "report() needs the dataset: load the run with its data (load_run(with_data=True))"
            )
        enc = self.data[split]
        pairs = list(zip(enc.src_text, enc.tgt_text, strict=True))
        result = score_pairs(self, model, pairs, beam=beam, by_length=by_length)
        result.update(self.evaluate(model, split, bleu_sentences=0))
        if self.split_record is not None:
            result["overlap_with_training"] = self.split_record["overlap"].get(split)
        return result

    @torch.no_grad()
    def reference_nats(self, model: nn.Module, pairs: list[tuple[str, str]]) -> list[float]:
        """Per pair: negative log-likelihood of the reference given the source, per reference character
        (NaN where a side is empty or longer than data.max_input_tokens).

        Per character, so that texts the codecs cut into more or fewer pieces compare fairly (word and
        subword models alike); an `<unk>` target is charged at least log |V| — a guess among every word
        the model does not know — so text in the wrong language cannot look likely by being all `<unk>`."""
        limit = self.recipe.data.max_input_tokens
        model.eval()
        device = next(model.parameters()).device
        log_v = math.log(len(self.tgt_codec.vocab))
        out = [math.nan] * len(pairs)
        encoded = [(self.src_codec.encode(s), self.tgt_codec.encode(t)) for s, t in pairs]
        keep = [i for i, (s, t) in enumerate(encoded) if s and t and max(len(s), len(t)) <= limit]
        enc = Encoded([encoded[i][0] for i in keep], [encoded[i][1] for i in keep], [], [])
        size = self.recipe.data.eval_batch_size
        for start in range(0, len(keep), size):
            rows = list(range(start, min(start + size, len(keep))))
            b = self._batch(enc, rows).to(device)
            logits, _ = model(b["src"], b["src_len"], b["tgt_in"])
            target = b["tgt_out"]
            nll = F.cross_entropy(
                logits.transpose(1, 2).float(), target, ignore_index=Vocab.PAD, reduction="none"
            )
            nll = torch.where(target == Vocab.UNK, nll.clamp_min(log_v), nll).sum(1)  # (B,)
            for r, value in zip(rows, nll.tolist(), strict=True):
                out[keep[r]] = value / max(len(pairs[keep[r]][1]), 1)
        return out

    def check_columns(self, model: nn.Module, pairs: list[tuple[str, str]], path) -> dict:
        """Refuse a file whose columns look swapped: for most sampled pairs the model finds the reference
        likelier when the columns are read the other way round. A model that cannot tell (untrained, or
        a chat model whose questions and answers are one language) prefers neither way and is not refused.
        Returns the figures (eval-*.json records them)."""
        sample = [pairs[i] for i in splits.sample_indices(len(pairs), self.SWAP_SAMPLE, seed=0)]
        given = self.reference_nats(model, sample)
        swapped = self.reference_nats(model, [(r, s) for s, r in sample])
        both = [(g, w) for g, w in zip(given, swapped, strict=True) if not (math.isnan(g) or math.isnan(w))]
        prefer_swapped = sum(w < g for g, w in both) / max(len(both), 1)
        figures = {
            "pairs_checked": len(both),
            "prefer_swapped": round(prefer_swapped, 3),
            "nats_per_char": round(float(np.mean([g for g, _ in both])), 4) if both else None,
            "swapped_nats_per_char": round(float(np.mean([w for _, w in both])), 4) if both else None,
        }
        if len(both) >= 5 and prefer_swapped > self.SWAP_SHARE:
            d = self.recipe.data
            raise UserError(
                f"{path}: its columns look swapped for this {d.src}→{d.tgt} model (for {prefer_swapped:.0%} of "
                f"{len(both)} sampled lines the reference is likelier read the other way round); name them "
                f"in file order with --columns, e.g. --columns {d.tgt},{d.src} or --columns {d.src},{d.tgt}"
            )
        return figures

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

    def explain(self, model: nn.Module, text: str, **opts) -> dict:
        """The explorer's view (attnlab/explain.py's contract): the n-best list and the attention of one
        hypothesis. opts: beam (1..REQUEST_MAX_BEAM), n_best (1..beam), alpha (length penalty), hypothesis
        (which n-best entry's attention to return, 0 = best)."""
        check_options(opts, {"beam", "n_best", "alpha", "hypothesis"}, self.name)
        beam = int_option(opts, "beam", 1, 1, REQUEST_MAX_BEAM)
        n_best = int_option(opts, "n_best", 1, 1, REQUEST_MAX_BEAM)
        if n_best > beam:
            raise UserError(f"n_best {n_best} is larger than beam {beam}; raise the beam")
        alpha = float_option(opts, "alpha", 0.6, 0.0, 5.0)
        nbest = self.translate(model, [text], beam=beam, n_best=n_best, alpha=float(alpha))[0]
        pick = int_option(opts, "hypothesis", 0, 0, REQUEST_MAX_BEAM - 1)
        if pick >= len(nbest):
            raise UserError(f"hypothesis {pick} does not exist: the n-best list has {len(nbest)} entries")
        t = nbest[pick]
        src, out = list(t.src_tokens), list(t.tgt_tokens)
        if self.recipe.arch == "transformer":
            (src_ids,), _ = self.encode_source([text])  # the ids `translate` used
            # tgt_tokens were decoded with strip_specials=False: every one maps back to its id exactly
            maps = transformer_seq2seq_maps(model, src_ids, self.tgt_codec.vocab.encode(out), src, out)
        else:
            maps = rnn_seq2seq_maps(t.attention, src, out)
        n_best_list = [{"text": h.text, "score": round(float(h.score), 4), "tokens": list(h.tgt_tokens)}
                       for h in nbest]  # fmt: skip
        result = {"text": nbest[0].text, "n_best": n_best_list, "src_tokens": src, "tgt_tokens": out,
                  "hypothesis": pick, "beam": beam}  # fmt: skip
        return {"task": self.name, "input": text, "result": result, "attention": maps}

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


def multi_reference(pairs: list[tuple[str, str]]) -> tuple[list[str], list[list[str]]]:
    """Each distinct source once (by `splits.group_key`, in first-seen order) with all its references."""
    refs: dict[str, tuple[str, list[str]]] = {}
    for src, ref in pairs:
        _, seen = refs.setdefault(splits.group_key(src), (src, []))
        if ref not in seen:
            seen.append(ref)
    return [s for s, _ in refs.values()], [r for _, r in refs.values()]


def score_pairs(
    task: TranslationTask,
    model: nn.Module,
    pairs: list[tuple[str, str]],
    *,
    beam: int = 1,
    by_length: bool = False,
) -> dict:
    """Corpus BLEU / chrF (sacreBLEU, detokenised) of translating `pairs`, optionally per length bucket.

    Every distinct source is translated and scored once, against all of its references (sacreBLEU's
    multi-reference BLEU): Tatoeba lists several translations of many sentences, and scoring each pair
    alone would count a sentence several times and call every translation but one wrong."""
    srcs, ref_lists = multi_reference(pairs)
    refs = [[task.reference(r) for r in rs] for rs in ref_lists]
    hyps = [n[0].text for n in task.translate(model, srcs, beam=beam, attention=False)]
    counts = [len(r) for r in refs]
    result = {
        "sentences": len(srcs),
        "pairs": len(pairs),
        "references": {"max": max(counts, default=0), "mean": round(sum(counts) / max(len(counts), 1), 3)},
        "beam": beam,
        "bleu": metrics.bleu(hyps, refs),
        "bleu_lowercase": metrics.bleu(hyps, refs, lowercase=True),
        "chrf": metrics.chrf(hyps, refs),
        "signature": metrics.bleu_signature(refs),
        "examples": [
            {"src": s, "ref": r[0], "hyp": h} for s, r, h in list(zip(srcs, refs, hyps, strict=True))[:5]
        ],
    }
    if by_length:
        lengths = [len(task.src_codec.tokens(s)) for s in srcs]
        result["by_length"] = metrics.bleu_by_length(hyps, refs, lengths)
    return result
