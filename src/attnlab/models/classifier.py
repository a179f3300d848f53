"""Text classifiers (binary sentiment): one input convention, four architectures.

Every model takes right-padded token ids and their lengths and returns one logit per example
(P(positive) = sigmoid(logit)); with ``return_attention=True`` it also returns a weight per token
(B, T), or None for models without attention pooling.

    ids (B, T) int64, pad = 0          lengths (B,) int64, >= 1
    forward(ids, lengths) -> logits (B,)
    forward(ids, lengths, return_attention=True) -> (logits (B,), weights (B, T) | None)

Architectures (``model.arch`` in a recipe):

  avg               Embedding (B, T, E) → masked mean over real tokens (B, E) → [Dense + ReLU] → Dense(1)
                    (seed 004). With ``ngrams`` > 1 each position also contributes hashed bigram (and
                    trigram) embeddings, i.e. a fastText-style bag of n-grams: (B, T·n, E) pooled the same way.
  lstm              Embedding → LSTM(hidden) over the real tokens (attnlab.nn.rnn.PaddedLSTM) → last hidden state (B, H) → Dense(1)
                    (seed 001: vocab 20k, max length 80, embedding 128, LSTM 128, dropout 0.2).
  bilstm-attention  Embedding (pad masked) → BiLSTM(h) returning states → BiLSTM(h) returning states
                    S (B, T, 2h) and final states (dropout on each BiLSTM's input, as Keras'
                    LSTM(dropout=0.5)); query q = [h_fwd; h_bwd] (B, 2h);
                    context, α = AdditiveAttention(units)(q, S, mask)   α: (B, T);
                    Dense(20, ReLU) → Dropout(0.5) → Dense(1)   (seed 003).
  transformer       TokenEmbedding·√d + sinusoidal positions → attnlab.nn.TransformerEncoder over
                    [<cls>; tokens] → pooled (B, d) (the <cls> state, or the masked mean) → Dense(1).
                    Attention weights: the <cls> row of the last layer, averaged over heads (B, T).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from attnlab.errors import UserError
from attnlab.nn import AdditiveAttention, SinusoidalPositionalEncoding, TokenEmbedding, padding_mask
from attnlab.nn.rnn import PaddedLSTM

# ------------------------------------------------------------------------------------------ configs


def _positive(cfg, *names: str) -> None:
    for name in names:
        if getattr(cfg, name) <= 0:
            raise UserError(f"model.{name} must be positive, got {getattr(cfg, name)}")


def _dropout(cfg, *names: str) -> None:
    for name in names:
        if not 0.0 <= getattr(cfg, name) < 1.0:
            raise UserError(f"model.{name} must be in [0, 1), got {getattr(cfg, name)}")


@dataclass
class AvgEmbeddingConfig:
    embed_dim: int = 64
    hidden: int = 0  # an optional Dense+ReLU layer after pooling (0 = none, as in seed 004)
    dropout: float = 0.0  # on the pooled vector
    ngrams: int = 1  # 1 = words only; 2 = + hashed bigrams; 3 = + hashed trigrams (fastText-style)
    buckets: int = 1 << 20  # hash buckets shared by the bigrams/trigrams
    pooling: Literal["mean", "sum", "sqrt"] = "mean"  # sqrt: sum / √length
    binary: bool = False  # count each distinct word / n-gram of a review once
    # NBSVM (Wang & Manning, 2012): scale each feature by its naive-Bayes log-count ratio
    # r = log(p/|p|) - log(q/|q|) (p, q: smoothed presence counts in positive / negative training reviews),
    # fitted once before training. With embed_dim 1, binary features and sum pooling this is NB-weighted
    # logistic regression; nb_alpha is the count smoothing.
    nb_scale: bool = False
    nb_alpha: float = 1.0
    # Std of the N(0, std) embedding init. 0 starts every feature weight at zero, as logistic regression
    # does: with dim-1 features a random start is noise that rare n-grams (seen in one or two training
    # reviews, so rarely updated) carry into every test prediction.
    init_std: float = 0.1

    def validate(self) -> None:
        _positive(self, "embed_dim", "buckets", "nb_alpha")
        if not (math.isfinite(self.init_std) and self.init_std >= 0):
            raise UserError(f"model.init_std must be a finite number >= 0, got {self.init_std}")
        if not math.isfinite(self.nb_alpha):
            raise UserError(f"model.nb_alpha must be a finite number, got {self.nb_alpha}")
        _dropout(self, "dropout")
        if self.hidden < 0 or not 1 <= self.ngrams <= 3:
            raise UserError(
                f"model.hidden must be >= 0 and model.ngrams 1, 2 or 3; got {self.hidden}, {self.ngrams}"
            )


@dataclass
class LSTMConfig:
    embed_dim: int = 128
    hidden: int = 128
    layers: int = 1
    dropout: float = 0.2  # on the embeddings and on the final state (Keras `dropout=`)

    def validate(self) -> None:
        _positive(self, "embed_dim", "hidden", "layers")
        _dropout(self, "dropout")


@dataclass
class BiLSTMAttentionConfig:
    embed_dim: int = 128
    hidden: int = 64  # per direction
    attn_units: int = 64
    dense: int = 20
    dropout: float = 0.5

    def validate(self) -> None:
        _positive(self, "embed_dim", "hidden", "attn_units", "dense")
        _dropout(self, "dropout")


@dataclass
class TransformerClassifierConfig:
    d_model: int = 128
    heads: int = 4
    layers: int = 2
    d_ff: int = 256
    dropout: float = 0.1
    pooling: Literal["cls", "mean"] = "cls"
    norm_first: bool = True

    def validate(self) -> None:
        _positive(self, "d_model", "heads", "layers", "d_ff")
        _dropout(self, "dropout")
        if self.d_model % self.heads:
            raise UserError(f"model.d_model ({self.d_model}) must be divisible by model.heads ({self.heads})")


# ------------------------------------------------------------------------------------------ helpers


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean over real positions: x (B, T, D), mask (B, T) bool -> (B, D)."""
    m = mask.unsqueeze(-1).to(x.dtype)
    return (x * m).sum(1) / m.sum(1).clamp_min(1.0)


_P1, _P2 = 1_000_003, 999_983


def hashed_ngrams(ids: Tensor, mask: Tensor, n: int, vocab: int, buckets: int) -> tuple[Tensor, Tensor]:
    """Word ids (B, T) -> ids of their n-grams, hashed into [vocab, vocab + buckets): (B, T - n + 1) each,
    with a mask that is True where all n words are real tokens. Deterministic (no Python `hash`)."""
    h = ids[:, : ids.size(1) - n + 1]
    ok = mask[:, : ids.size(1) - n + 1]
    for k in range(1, n):
        nxt = ids[:, k : ids.size(1) - n + 1 + k]
        h = (h * (_P1 if k == 1 else _P2) + nxt) % buckets
        ok = ok & mask[:, k : mask.size(1) - n + 1 + k]
    return h + vocab, ok  # bigrams and trigrams share the table (different multipliers)


def _distinct(feats: Tensor, fmask: Tensor) -> tuple[Tensor, Tensor]:
    """Each row's features sorted, with repeats (and padding) masked out: presence instead of counts."""
    feats, _ = feats.masked_fill(~fmask, 0).sort(dim=1)  # padding -> id 0, sorted first
    fmask = feats != 0
    fmask[:, 1:] &= feats[:, 1:] != feats[:, :-1]
    return feats, fmask


def keras_init(embedding: nn.Embedding, *lstms: nn.LSTM) -> None:
    """Keras' defaults, which the seeds were tuned with: embeddings U(-0.05, 0.05) (pad row 0),
    Glorot-uniform input weights, orthogonal recurrent weights, zero biases except forget gates = 1."""
    with torch.no_grad():
        nn.init.uniform_(embedding.weight, -0.05, 0.05)
        if embedding.padding_idx is not None:
            embedding.weight[embedding.padding_idx].zero_()
        for lstm in lstms:
            for name, p in lstm.named_parameters():
                if name.startswith("weight_ih"):
                    for chunk in p.chunk(4, 0):
                        nn.init.xavier_uniform_(chunk)
                elif name.startswith("weight_hh"):
                    for chunk in p.chunk(4, 0):
                        nn.init.orthogonal_(chunk)
                elif name.startswith("bias_ih"):
                    p.zero_()
                    p[lstm.hidden_size : 2 * lstm.hidden_size] = 1.0  # gate order i, f, g, o
                elif name.startswith("bias_hh"):
                    p.zero_()


# ------------------------------------------------------------------------------------------ models


class AvgEmbeddingClassifier(nn.Module):
    """Masked mean (or sum) of word — and optionally hashed n-gram — embeddings, then a small head."""

    def __init__(self, cfg: AvgEmbeddingConfig, vocab_size: int) -> None:
        super().__init__()
        self.cfg, self.vocab_size = cfg, vocab_size
        extra = cfg.buckets if cfg.ngrams > 1 else 0
        self.embedding = nn.Embedding(vocab_size + extra, cfg.embed_dim, padding_idx=0)
        nn.init.normal_(self.embedding.weight, std=cfg.init_std)
        with torch.no_grad():
            self.embedding.weight[0].zero_()
        layers: list[nn.Module] = [nn.Dropout(cfg.dropout)]
        width = cfg.embed_dim
        if cfg.hidden:
            layers += [nn.Linear(width, cfg.hidden), nn.ReLU(), nn.Dropout(cfg.dropout)]
            width = cfg.hidden
        self.head = nn.Sequential(*layers, nn.Linear(width, 1))
        if cfg.nb_scale:  # a buffer: saved with the weights, fitted by fit_nb, never trained
            self.register_buffer("nb_ratio", torch.ones(vocab_size + extra))

    @torch.no_grad()
    def fit_nb(self, batches) -> None:
        """Set nb_ratio from (ids, lengths, labels) batches of the training reviews (presence counts)."""
        counts = torch.full((2, self.embedding.num_embeddings), float(self.cfg.nb_alpha))
        for b in batches:
            feats, fmask = _distinct(*self.features(b["ids"], padding_mask(b["lengths"], b["ids"].size(1))))
            label = b["labels"].long()[:, None].expand_as(feats)
            counts.index_put_((label[fmask], feats[fmask]), torch.ones(int(fmask.sum())), accumulate=True)
        log_p = counts.log() - counts.sum(1, keepdim=True).log()
        self.nb_ratio.copy_(log_p[1] - log_p[0])

    def features(self, ids: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """All feature ids (B, T') and their mask: words, then hashed bigrams / trigrams; with `binary`
        repeated features of a row are masked out (rows come back sorted by feature id)."""
        feats, masks = [ids], [mask]
        for n in range(2, self.cfg.ngrams + 1):
            if ids.size(1) >= n:
                h, ok = hashed_ngrams(ids, mask, n, self.vocab_size, self.cfg.buckets)
                feats.append(h)
                masks.append(ok)
        feats, fmask = torch.cat(feats, 1), torch.cat(masks, 1)
        return _distinct(feats, fmask) if self.cfg.binary else (feats, fmask)

    def forward(self, ids: Tensor, lengths: Tensor, return_attention: bool = False):
        mask = padding_mask(lengths, ids.size(1))
        feats, fmask = self.features(ids, mask)
        emb = self.embedding(feats)  # (B, T', E)
        if self.cfg.nb_scale:
            emb = emb * self.nb_ratio[feats].unsqueeze(-1)
        m = fmask.unsqueeze(-1).to(emb.dtype)
        summed = (emb * m).sum(1)  # (B, E)
        count = m.sum(1).clamp_min(1.0)
        pooled = {"mean": summed / count, "sum": summed, "sqrt": summed / count.sqrt()}[self.cfg.pooling]
        logits = self.head(pooled).squeeze(-1)
        return (logits, None) if return_attention else logits


class LSTMClassifier(nn.Module):
    """Embedding → LSTM over the real tokens → final hidden state of the last layer → Dense(1)."""

    def __init__(self, cfg: LSTMConfig, vocab_size: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, cfg.embed_dim, padding_idx=0)
        self.dropout = nn.Dropout(cfg.dropout)
        self.lstm = PaddedLSTM(cfg.embed_dim, cfg.hidden, cfg.layers, dropout=cfg.dropout)
        self.out = nn.Linear(cfg.hidden, 1)
        keras_init(self.embedding, *self.lstm.lstms())

    def forward(self, ids: Tensor, lengths: Tensor, return_attention: bool = False):
        x = self.dropout(self.embedding(ids))  # (B, T, E)
        _, h = self.lstm(x, lengths)  # h: (layers, B, H)
        logits = self.out(self.dropout(h[-1])).squeeze(-1)
        return (logits, None) if return_attention else logits


class BiLSTMAttentionClassifier(nn.Module):
    """Two BiLSTMs, then additive (Bahdanau) attention pooling queried by the final states (seed 003)."""

    def __init__(self, cfg: BiLSTMAttentionConfig, vocab_size: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, cfg.embed_dim, padding_idx=0)
        self.lstm1 = PaddedLSTM(cfg.embed_dim, cfg.hidden, bidirectional=True)
        self.lstm2 = PaddedLSTM(2 * cfg.hidden, cfg.hidden, bidirectional=True)
        self.attention = AdditiveAttention(2 * cfg.hidden, 2 * cfg.hidden, cfg.attn_units)
        self.dense = nn.Linear(2 * cfg.hidden, cfg.dense)
        self.dropout = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.dense, 1)
        keras_init(self.embedding, *self.lstm1.lstms(), *self.lstm2.lstms())

    def forward(self, ids: Tensor, lengths: Tensor, return_attention: bool = False):
        t = ids.size(1)
        mask = padding_mask(lengths, t)  # (B, T)
        x = self.dropout(self.embedding(ids))  # Keras' LSTM(dropout=.5) drops each layer's inputs
        s1, _ = self.lstm1(x, lengths)  # (B, T, 2h), zero at padding
        states, h = self.lstm2(self.dropout(s1), lengths)  # (B, T, 2h), final h (2, B, h)
        query = torch.cat([h[0], h[1]], dim=-1)  # (B, 2h): forward and backward final states
        context, weights = self.attention(query, states, mask)  # (B, 2h), (B, T)
        hidden = self.dropout(torch.relu(self.dense(context)))
        logits = self.out(hidden).squeeze(-1)
        return (logits, weights) if return_attention else logits


class TransformerClassifier(nn.Module):
    """A Transformer encoder over [<cls>; tokens]; the <cls> state (or the masked mean) feeds Dense(1)."""

    def __init__(self, cfg: TransformerClassifierConfig, vocab_size: int, max_len: int = 512) -> None:
        from attnlab.nn import TransformerEncoder

        super().__init__()
        self.cfg = cfg
        self.embedding = TokenEmbedding(vocab_size, cfg.d_model)
        # N(0, 1/d) so that, scaled by √d, token vectors have unit size like the positional encodings; the
        # default N(0, 1) would be √d times larger and drown every sublayer's update in the residual stream.
        nn.init.normal_(self.embedding.embedding.weight, 0.0, cfg.d_model**-0.5)
        with torch.no_grad():
            self.embedding.embedding.weight[0].zero_()
        self.cls = nn.Parameter(torch.randn(1, 1, cfg.d_model) * 0.02)
        self.positions = SinusoidalPositionalEncoding(cfg.d_model, max_len + 1, cfg.dropout)
        self.encoder = TransformerEncoder(
            cfg.layers, cfg.d_model, cfg.heads, cfg.d_ff, cfg.dropout, norm_first=cfg.norm_first
        )
        self.out = nn.Linear(cfg.d_model, 1)

    def _encode(self, ids: Tensor, lengths: Tensor, return_attention: bool):
        """-> (states (B, 1 + T, d), mask (B, 1 + T), per-layer self-attention (B, H, 1+T, 1+T) or None)."""
        b, t = ids.shape
        x = torch.cat([self.cls.expand(b, 1, -1), self.embedding(ids)], dim=1)  # (B, 1 + T, d)
        x = self.positions(x)
        mask = padding_mask(lengths + 1, t + 1)  # <cls> is always real
        if return_attention:
            x, attentions = self.encoder(x, mask, return_attention=True)
            return x, mask, attentions
        return self.encoder(x, mask), mask, None

    @torch.no_grad()
    def attention_maps(self, ids: Tensor, lengths: Tensor) -> list[Tensor]:
        """Each encoder layer's self-attention (B, H, 1 + T, 1 + T) over [<cls>; tokens]."""
        return self._encode(ids, lengths, True)[2]

    def forward(self, ids: Tensor, lengths: Tensor, return_attention: bool = False):
        x, mask, attentions = self._encode(ids, lengths, return_attention)
        pooled = x[:, 0] if self.cfg.pooling == "cls" else masked_mean(x[:, 1:], mask[:, 1:])
        logits = self.out(pooled).squeeze(-1)
        if not return_attention:
            return logits
        last = attentions[-1]  # (B, H, 1 + T, 1 + T)
        rows = last[:, :, 0, 1:] if self.cfg.pooling == "cls" else last[:, :, 1:, 1:].mean(2)
        weights = rows.mean(1) * mask[:, 1:]
        return logits, weights / weights.sum(-1, keepdim=True).clamp_min(1e-9)


ARCHS = {
    "avg": (AvgEmbeddingConfig, AvgEmbeddingClassifier),
    "lstm": (LSTMConfig, LSTMClassifier),
    "bilstm-attention": (BiLSTMAttentionConfig, BiLSTMAttentionClassifier),
    "transformer": (TransformerClassifierConfig, TransformerClassifier),
}


def build_classifier(arch: str, cfg, vocab_size: int, max_len: int = 512) -> nn.Module:
    model_cls = ARCHS[arch][1]
    if model_cls is TransformerClassifier:
        return model_cls(cfg, vocab_size, max_len)
    return model_cls(cfg, vocab_size)


def input_embedding(model: nn.Module) -> nn.Embedding:
    """The word-embedding table (for initialising it from word2vec vectors)."""
    emb = model.embedding
    return emb.embedding if isinstance(emb, TokenEmbedding) else emb
