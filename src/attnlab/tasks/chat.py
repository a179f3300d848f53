"""Chat: a question → answer seq2seq over the Korean ChatbotData (seed 003), reusing translation entirely.

A dialogue pair (Q, A) is a translation pair from "question language" to "answer language": the same
codecs, batches, models (Transformer or RNN), loss, search and metrics. What differs:

* data: `load_dialogue("chatbot-ko")` rows (Q, A, label), split deterministically (split.json records it);
* one subword tokenizer (HF tokenizers, ~8k pieces) shared by questions and answers, so the source and
  target vocabularies are the same (codec-src.json == codec-tgt.json);
* replies are not proportional to the question's length: the output limit is `data.max_reply_tokens`;
* `reply()` adds sampling (temperature, top-p, seed) to greedy/beam search;
* evaluation reports loss, perplexity, BLEU and chrF (sacreBLEU, on detokenised answers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from attnlab import decode
from attnlab.data.batching import pad_batch
from attnlab.data.codec import Codec
from attnlab.data.corpora import load_dialogue
from attnlab.data.vocab import Vocab
from attnlab.errors import UserError
from attnlab.tasks.translation import TranslationData, TranslationTask


@dataclass
class ChatData(TranslationData):
    dataset: str = "chatbot-ko"
    src: str = "q"
    tgt: str = "a"
    tokenizer: Literal["word", "char", "subword"] = "subword"
    lowercase: bool = False
    strip_accents: bool = False
    subword_vocab: int = 8000
    subword_model: Literal["bpe", "unigram"] = "bpe"
    shared_vocab: bool = True  # one tokenizer + vocabulary for questions and answers
    max_len: int | None = 40  # seed 003's MAX_LENGTH (pieces, either side)
    split: list[float] = field(default_factory=lambda: [0.9, 0.05, 0.05])
    max_input_tokens: int = 100  # longest message `chat` accepts (pieces)
    max_reply_tokens: int = 40  # longest reply generated
    valid_bleu_sentences: int = 300

    def validate(self) -> None:
        super().validate()
        if self.max_reply_tokens <= 0:
            raise UserError(f"data.max_reply_tokens must be positive, got {self.max_reply_tokens}")


class ChatTask(TranslationTask):
    name = "chat"
    DataConfig = ChatData
    default_arch = "transformer"
    VERBS = frozenset({"translate", "reply", "explain"})
    GROUP_COLUMNS = (0,)  # by question: a good reply to an unseen question may well be a known answer
    GROUPED_BY = "question"

    # ------------------------------------------------------------------------------------------ data

    def _splits(self) -> dict[str, list[tuple[str, str]]]:
        d = self.recipe.data
        rows = load_dialogue(d.dataset, on_error=d.on_error)
        return self._split_pairs([(q, a) for q, a, _ in rows if q.strip() and a.strip()])

    def _build_codecs(self, train: list[tuple[str, str]]) -> tuple[Codec, Codec]:
        """With data.shared_vocab (the default) one codec fitted on questions and answers together."""
        d = self.recipe.data
        kw = dict(kind=d.tokenizer, lowercase=d.lowercase, strip_accents=d.strip_accents, min_freq=d.min_freq,
                  max_size=d.max_vocab, subword_vocab=d.subword_vocab, subword_model=d.subword_model)  # fmt: skip
        if d.shared_vocab:
            codec = Codec.build([t for pair in train for t in pair], **kw)
            return codec, codec
        return Codec.build([q for q, _ in train], **kw), Codec.build([a for _, a in train], **kw)

    # ------------------------------------------------------------------------------------------ use

    def search_limits(self) -> dict:
        return {
            "max_len_ratio": 0.0,
            "max_len_offset": self.recipe.data.max_reply_tokens,
            "max_len": self.recipe.data.max_reply_tokens,
        }

    def encode_source(self, texts: list[str]) -> tuple[list[list[int]], list[list[str]]]:
        limit = self.recipe.data.max_input_tokens
        ids, toks = [], []
        for text in texts:
            tokens = self.src_codec.tokens(text)
            if not tokens:
                raise UserError("empty message: type something to say (or 'quit' to leave)")
            if len(tokens) > limit:
                raise UserError(
                    f"message too long: {len(tokens)} pieces, more than the {limit} this model "
                    "accepts; say it in fewer words"
                )
            encoded = self.src_codec.encode(tokens)
            # Only <unk> besides word-boundary pieces ("▁"): the model would see nothing to answer.
            if Vocab.UNK in encoded and all(
                i == Vocab.UNK or not t.strip("▁ ") for t, i in zip(tokens, encoded, strict=True)
            ):
                raise UserError(
                    f"none of {text[:60]!r} is in the model's vocabulary ({self.recipe.data.dataset}); "
                    "write in the language it was trained on"
                )
            ids.append(encoded)
            toks.append([t if i != Vocab.UNK else "<unk>" for t, i in zip(tokens, encoded, strict=True)])
        return ids, toks

    @torch.no_grad()
    def reply(
        self,
        model: nn.Module,
        texts: list[str],
        *,
        beam: int = 1,
        temperature: float | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        seed: int | None = None,
        alpha: float = 0.6,
    ) -> list[str]:
        """One reply per message: greedy (default), beam search (beam > 1), or sampling when a temperature,
        top-p or top-k is given (reproducible with `seed`)."""
        sampling = temperature is not None or top_p is not None or top_k is not None
        decode.check_seed(seed)
        if sampling and beam > 1:
            raise UserError("choose either --beam or sampling (--temperature / --top-p), not both")
        if beam < 1:
            raise UserError(f"--beam must be at least 1, got {beam}")
        if temperature is not None and not 0.0 < temperature < math.inf:  # NaN fails this too
            raise UserError(f"--temperature must be positive, got {temperature}")
        if top_p is not None and not 0.0 < top_p <= 1.0:
            raise UserError(f"--top-p must be in (0, 1], got {top_p}")
        if top_k is not None and top_k < 1:
            raise UserError(f"top_k must be at least 1, got {top_k}")
        if not sampling:
            return [n[0].text for n in self.translate(model, texts, beam=beam, alpha=alpha, attention=False)]
        model.eval()
        device = next(model.parameters()).device
        ids, toks = self.encode_source(texts)
        src, src_len = pad_batch(ids)
        hyps = decode.sample(
            model,
            src.to(device),
            src_len.to(device),
            temperature=temperature or 1.0,
            top_p=top_p,
            top_k=top_k,
            seed=seed,
            **self.search_limits(),
        )
        return [self._translation(h, t).text for h, t in zip(hyps, toks, strict=True)]
