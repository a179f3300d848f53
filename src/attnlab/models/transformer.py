"""The Transformer encoder–decoder (Vaswani et al., 2017) for translation and chat, built from attnlab.nn.

    source ids ─ TokenEmbedding (·√d) ─ + positions ─ TransformerEncoder ───────────────┐ memory (B, S, d)
    target ids ─ TokenEmbedding (·√d) ─ + positions ─ TransformerDecoder (masked self, cross) ─ Linear ─ logits

Defaults are seed 003's sizes (d_model 256, 2 + 2 layers, 8 heads, d_ff 512, dropout 0.1), which train on a
2-core CPU; `preset: base` is the paper's base model (512, 6 + 6, 8, 2048). Explicit keys win over the
preset (`--set model.preset=base --set model.layers=4`).

Decoding uses the same `start` / `step` / `reorder_state` interface as the RNN models (decode.py):
`start` encodes once and projects every decoder layer's cross-attention keys/values once (a static KV
cache); `step` feeds one token, appends its self-attention keys/values to the cache, and returns the
cross-attention of that token, (B, layers, heads, S).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

import torch
from torch import Tensor, nn

from attnlab.nn import (
    DecoderCache,
    LearnedPositionalEncoding,
    SinusoidalPositionalEncoding,
    TokenEmbedding,
    TransformerDecoder,
    TransformerEncoder,
    padding_mask,
)

PRESETS: dict[str, dict[str, int]] = {
    "seed003": {"d_model": 256, "layers": 2, "heads": 8, "d_ff": 512},
    "base": {"d_model": 512, "layers": 6, "heads": 8, "d_ff": 2048},  # Vaswani et al. (2017), Table 3
}


@dataclass
class TransformerSeq2SeqConfig:
    preset: Literal["seed003", "base"] = "seed003"  # fills d_model/layers/heads/d_ff left unset (null)
    d_model: int | None = None
    layers: int | None = None  # encoder layers = decoder layers, unless enc_layers/dec_layers are set
    enc_layers: int | None = None
    dec_layers: int | None = None
    heads: int | None = None
    d_ff: int | None = None
    dropout: float = 0.1
    activation: Literal["relu", "gelu"] = "relu"
    norm_first: bool = False  # pre-norm (x + f(LN(x))) instead of the paper's post-norm
    tie_embeddings: bool = True  # decoder input embedding = output projection (Press & Wolf, 2017)
    positional: Literal["sinusoidal", "learned"] = "sinusoidal"
    max_positions: int = 512  # learned table size (sinusoids extend past it)

    def __post_init__(self) -> None:
        for name, value in PRESETS.get(self.preset, PRESETS["seed003"]).items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        # `is None`, not `or`: an explicit 0 is a mistake for validate() to name, not "use model.layers".
        self.enc_layers = self.layers if self.enc_layers is None else self.enc_layers
        self.dec_layers = self.layers if self.dec_layers is None else self.dec_layers

    def validate(self) -> None:
        from attnlab.errors import UserError

        for name in ("d_model", "layers", "enc_layers", "dec_layers", "heads", "d_ff", "max_positions"):
            if getattr(self, name) <= 0:
                raise UserError(f"model.{name} must be positive, got {getattr(self, name)}")
        if self.d_model % self.heads:
            raise UserError(f"model.d_model={self.d_model} must be divisible by model.heads={self.heads}")
        if not 0.0 <= self.dropout < 1.0:
            raise UserError(f"model.dropout must be in [0, 1), got {self.dropout}")

    def sizes(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


State = dict  # {"cache": DecoderCache, "mask": (B, S) bool}


class TransformerSeq2Seq(nn.Module):
    def __init__(self, cfg: TransformerSeq2SeqConfig, src_vocab: int, tgt_vocab: int):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.src_embed = TokenEmbedding(src_vocab, d)
        self.tgt_embed = TokenEmbedding(tgt_vocab, d)
        if cfg.positional == "learned":
            self.src_pos = LearnedPositionalEncoding(cfg.max_positions, d, cfg.dropout)
            self.tgt_pos = LearnedPositionalEncoding(cfg.max_positions, d, cfg.dropout)
        else:
            self.src_pos = SinusoidalPositionalEncoding(d, cfg.max_positions, cfg.dropout)
            self.tgt_pos = SinusoidalPositionalEncoding(d, cfg.max_positions, cfg.dropout)
        common = dict(
            d_model=d,
            num_heads=cfg.heads,
            d_ff=cfg.d_ff,
            dropout=cfg.dropout,
            activation=cfg.activation,
            norm_first=cfg.norm_first,
        )
        self.encoder = TransformerEncoder(cfg.enc_layers, **common)
        self.decoder = TransformerDecoder(cfg.dec_layers, **common)
        self.out = nn.Linear(d, tgt_vocab)
        self._init_weights()
        if cfg.tie_embeddings:
            self.out.weight = self.tgt_embed.embedding.weight

    def _init_weights(self) -> None:
        """Xavier for every matrix (as in the Annotated Transformer); embeddings N(0, d^-1/2) so that,
        scaled by √d at the input, they are unit-variance, and tied as output weights give small logits."""
        for name, p in self.named_parameters():
            if p.dim() > 1 and "embed" not in name and "pos" not in name:
                nn.init.xavier_uniform_(p)
        for emb in (self.src_embed.embedding, self.tgt_embed.embedding):
            nn.init.normal_(emb.weight, 0.0, self.cfg.d_model**-0.5)
            with torch.no_grad():
                emb.weight[0].zero_()  # <pad>
        nn.init.zeros_(self.out.bias)

    # ------------------------------------------------------------------------------------- pieces

    def encode(self, src: Tensor, src_len: Tensor, *, return_attention: bool = False):
        """src (B, S) ids -> memory (B, S, d), mask (B, S) [, encoder self-attention per layer (B, H, S, S)]."""
        mask = padding_mask(src_len, src.size(1)).to(src.device)
        x = self.src_pos(self.src_embed(src))
        res = self.encoder(x, mask, return_attention=return_attention)
        if return_attention:
            memory, attn = res
            return memory, mask, attn
        return res, mask

    def decode(self, memory: Tensor, mask: Tensor, tgt_in: Tensor, *, return_attention: bool = False):
        """Full (uncached) decoder pass over tgt_in (B, T) -> logits (B, T, V) [, self, cross attention]."""
        y = self.tgt_pos(self.tgt_embed(tgt_in))
        res = self.decoder(y, memory, None, mask, return_attention=return_attention)
        if return_attention:
            y, self_ws, cross_ws = res
            return self.out(y), self_ws, cross_ws
        return self.out(res)

    # ------------------------------------------------------------------------------------- training

    def forward(
        self, src: Tensor, src_len: Tensor, tgt_in: Tensor, *, return_attention: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """Teacher-forced pass -> logits (B, T, V) and, with return_attention, the cross-attention
        (B, T, layers, heads, S) (the layout `step` reports, stacked over time); else None."""
        memory, mask = self.encode(src, src_len)
        if not return_attention:
            return self.decode(memory, mask, tgt_in), None
        logits, _, cross = self.decode(memory, mask, tgt_in, return_attention=True)
        return logits, torch.stack(cross, 1).permute(0, 3, 1, 2, 4)

    @torch.no_grad()
    def attention_maps(self, src: Tensor, src_len: Tensor, tgt_in: Tensor) -> dict[str, list[Tensor]]:
        """Every attention map of a teacher-forced pass over tgt_in (a reference, or a decoded output
        with <bos> prepended): {"encoder": [(B, H, S, S)] per layer, "decoder": [(B, H, T, T)],
        "cross": [(B, H, T, S)]}. For plots and the web explorer."""
        memory, mask, enc = self.encode(src, src_len, return_attention=True)
        _, dec, cross = self.decode(memory, mask, tgt_in, return_attention=True)
        return {"encoder": enc, "decoder": dec, "cross": cross}

    # ------------------------------------------------------------------------------------- search

    def start(self, src: Tensor, src_len: Tensor) -> State:
        """Encode once; project each layer's cross-attention K/V once (static cache)."""
        memory, mask = self.encode(src, src_len)
        return {"cache": self.decoder.init_cache(memory), "mask": mask}

    def step(
        self, tokens: Tensor, state: State, attention: bool = True
    ) -> tuple[Tensor, State, Tensor | None]:
        """tokens (B,) -> logits (B, V), new state, cross-attention (B, layers, heads, S) (None with
        `attention=False`: every layer then takes the fused attention kernel)."""
        cache: DecoderCache = state["cache"]
        y = self.tgt_pos(self.tgt_embed(tokens[:, None]), offset=cache.offset)
        new_state = {"mask": state["mask"]}
        if not attention:
            y, new_state["cache"] = self.decoder(y, None, None, state["mask"], cache=cache)
            return self.out(y[:, 0]), new_state, None
        y, _, cross, new_state["cache"] = self.decoder(
            y, None, None, state["mask"], return_attention=True, cache=cache
        )
        attn = torch.stack([c[:, :, 0] for c in cross], 1)  # L × (B, H, 1, S) -> (B, L, H, S)
        return self.out(y[:, 0]), new_state, attn

    @staticmethod
    def reorder_state(state: State, index: Tensor) -> State:
        return {"cache": state["cache"].select(index), "mask": state["mask"].index_select(0, index)}
