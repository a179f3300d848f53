"""RNN encoder–decoders: no attention (Sutskever/Cho), Bahdanau (additive) and Luong (dot/general/concat).

Encoder  embed → dropout → GRU/LSTM (optionally bidirectional)        memory H: (B, S, D_enc)
Bridge   bidirectional: s_0 = tanh(W [h_fwd; h_bwd])   (seed 002)   else s_0 = h_n          (seed 000)
Decoder, one step t with previous token y_{t-1} and state s_{t-1}:

  bahdanau   c_t = Attn(s_{t-1}, H);  s_t = RNN([emb(y_{t-1}); c_t], s_{t-1});  o_t = s_t
  luong      s_t = RNN([emb(y_{t-1}); h̃_{t-1}]  (input feeding) or emb(y_{t-1}), s_{t-1})
             c_t = Attn(s_t, H);      h̃_t = tanh(W_c [c_t; s_t]);            o_t = h̃_t
  none       s_t = RNN(emb(y_{t-1}), s_{t-1});                               o_t = s_t

  logits_t = W_out o_t,  or with deep_output W_out [o_t; c_t; emb(y_{t-1})]   (seed 002)

The attention's key projection W_k H is computed once per source batch (`start`) and reused at every
step. With teacher forcing and no step-to-step feedback (`none`, or `luong` without input feeding) the
whole target runs through the RNN in one call, and the output projection is always one big matmul.

Decoding goes through `start` / `step` / `reorder_state`, the interface decode.py searches over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from attnlab.nn import AdditiveAttention, LuongAttention, padding_mask

State = dict[str, Tensor]


@dataclass
class RNNSeq2SeqConfig:
    cell: Literal["gru", "lstm"] = "gru"
    embed_dim: int = 256
    hidden: int = 512
    layers: int = 1
    bidirectional: bool = False
    attention: Literal["none", "bahdanau", "luong-dot", "luong-general", "luong-concat"] = "bahdanau"
    attn_units: int | None = None  # additive/concat score width; defaults to `hidden`
    input_feeding: bool = True  # luong: feed h̃_{t-1} into the next step (bahdanau always feeds c_t)
    deep_output: bool = False  # logits from [o_t; c_t; emb(y_{t-1})] as in seed 002
    dropout: float = 0.1
    teacher_forcing: float = 1.0  # probability of feeding the reference token rather than the prediction

    def validate(self) -> None:
        from attnlab.errors import UserError

        for name in ("embed_dim", "hidden", "layers"):
            if getattr(self, name) <= 0:
                raise UserError(f"model.{name} must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0 or not 0.0 <= self.teacher_forcing <= 1.0:
            raise UserError("model.dropout must be in [0, 1) and model.teacher_forcing in [0, 1]")
        if self.attn_units is not None and self.attn_units <= 0:
            raise UserError(f"model.attn_units must be positive, got {self.attn_units}")


class RNNSeq2Seq(nn.Module):
    def __init__(self, cfg: RNNSeq2SeqConfig, src_vocab: int, tgt_vocab: int):
        super().__init__()
        self.cfg = cfg
        rnn = nn.GRU if cfg.cell == "gru" else nn.LSTM
        h, e, dirs = cfg.hidden, cfg.embed_dim, 2 if cfg.bidirectional else 1
        self.enc_dim = h * dirs
        self.src_embed = nn.Embedding(src_vocab, e, padding_idx=0)
        self.tgt_embed = nn.Embedding(tgt_vocab, e, padding_idx=0)
        layer_dropout = cfg.dropout if cfg.layers > 1 else 0.0
        self.encoder = rnn(
            e, h, cfg.layers, batch_first=True, bidirectional=cfg.bidirectional, dropout=layer_dropout
        )
        # tanh(W [h_fwd; h_bwd]) maps the two directions' final states to the decoder's size (seed 002).
        self.bridge = nn.Linear(self.enc_dim, h) if cfg.bidirectional else None
        self.kind = cfg.attention.split("-")[0]  # none | bahdanau | luong
        feed = {"none": 0, "bahdanau": self.enc_dim, "luong": h if cfg.input_feeding else 0}[self.kind]
        self.decoder = rnn(e + feed, h, cfg.layers, batch_first=True, dropout=layer_dropout)
        units = cfg.attn_units or h
        if self.kind == "bahdanau":
            self.attention = AdditiveAttention(h, self.enc_dim, units)
        elif self.kind == "luong":
            score = cfg.attention.split("-")[1]
            if score == "dot" and self.enc_dim != h:
                raise ValueError(
                    "luong-dot needs equal encoder and decoder sizes; use luong-general with a BiRNN"
                )
            self.attention = LuongAttention(h, self.enc_dim, score=score, units=units)
            self.combine = nn.Linear(self.enc_dim + h, h, bias=False)  # W_c of h̃ = tanh(W_c [c; s])
        else:
            self.attention = None
        out_in = h + ((self.enc_dim if self.kind != "none" else 0) + e if cfg.deep_output else 0)
        self.dropout = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(out_in, tgt_vocab)

    # ------------------------------------------------------------------------------------- encoder

    def encode(self, src: Tensor, src_len: Tensor) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
        """src (B, S) ids, src_len (B,) -> memory (B, S, D_enc), decoder initial state (L, B, H)."""
        x = self.dropout(self.src_embed(src))
        packed = pack_padded_sequence(x, src_len.cpu(), batch_first=True, enforce_sorted=False)
        out, final = self.encoder(packed)
        memory, _ = pad_packed_sequence(out, batch_first=True, total_length=src.size(1))
        return memory, self._bridge(final)

    def _bridge(self, final):
        if isinstance(final, tuple):  # LSTM: bridge h and c alike
            return tuple(self._bridge(f) for f in final)
        if self.bridge is None:
            return final
        layers, batch = self.cfg.layers, final.size(1)
        # (L*2, B, H) -> (L, B, 2H): concatenate the forward and backward final states of each layer.
        both = final.view(layers, 2, batch, -1).permute(0, 2, 1, 3).reshape(layers, batch, -1)
        return torch.tanh(self.bridge(both))

    def start(self, src: Tensor, src_len: Tensor) -> State:
        """Encode and build the decoding state. Every tensor except h/c is batch-first."""
        memory, hidden = self.encode(src, src_len)
        state: State = {"memory": memory, "mask": padding_mask(src_len, src.size(1)).to(src.device)}
        if isinstance(hidden, tuple):
            state["h"], state["c"] = hidden
        else:
            state["h"] = hidden
        if self.attention is not None:
            state["keys"] = self.attention.project_keys(memory)  # once per source batch
        if self.kind == "luong" and self.cfg.input_feeding:
            state["feed"] = memory.new_zeros(src.size(0), self.cfg.hidden)
        return state

    # ------------------------------------------------------------------------------------- decoder

    def _rnn(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """x (B, T, I) -> outputs (B, T, H); updates h (and c)."""
        if self.cfg.cell == "lstm":
            out, (h, c) = self.decoder(x, (state["h"], state["c"]))
            return out, {**state, "h": h, "c": c}
        out, h = self.decoder(x, state["h"])
        return out, {**state, "h": h}

    def _features(self, emb: Tensor, state: State) -> tuple[Tensor, State, Tensor | None]:
        """One decoder step before the output layer. emb (B, E) -> o_t (B, F), state, weights (B, S)."""
        weights = None
        if self.kind == "bahdanau":
            context, weights = self.attention(state["h"][-1], state["memory"], state["mask"], state["keys"])
            out, state = self._rnn(torch.cat([emb, context], -1).unsqueeze(1), state)
            feats = out.squeeze(1)
        elif self.kind == "luong":
            x = torch.cat([emb, state["feed"]], -1) if self.cfg.input_feeding else emb
            out, state = self._rnn(x.unsqueeze(1), state)
            s_t = out.squeeze(1)
            context, weights = self.attention(s_t, state["memory"], state["mask"], state["keys"])
            feats = torch.tanh(self.combine(torch.cat([context, s_t], -1)))
            if self.cfg.input_feeding:
                state = {**state, "feed": feats}
        else:
            out, state = self._rnn(emb.unsqueeze(1), state)
            feats, context = out.squeeze(1), None
        if self.cfg.deep_output:
            feats = torch.cat([feats, emb] if context is None else [feats, context, emb], -1)
        return feats, state, weights

    def step(
        self, tokens: Tensor, state: State, attention: bool = True
    ) -> tuple[Tensor, State, Tensor | None]:
        """tokens (B,) previous outputs -> logits (B, V), new state, attention weights (B, S) or None
        (no attention, or `attention=False`; the RNN attentions form the weights anyway)."""
        feats, state, weights = self._features(self.tgt_embed(tokens), state)
        return self.out(feats), state, weights if attention else None

    @staticmethod
    def reorder_state(state: State, index: Tensor) -> State:
        """Select/repeat batch rows (beam search). h and c are (L, B, H); the rest are batch-first."""
        return {k: v.index_select(1 if k in ("h", "c") else 0, index) for k, v in state.items()}

    # ------------------------------------------------------------------------------------- training

    def forward(self, src: Tensor, src_len: Tensor, tgt_in: Tensor) -> tuple[Tensor, Tensor | None]:
        """Teacher-forced pass. tgt_in (B, T) starts with <bos> -> logits (B, T, V), attention (B, T, S)."""
        state = self.start(src, src_len)
        emb = self.dropout(self.tgt_embed(tgt_in))  # (B, T, E)
        tf = self.cfg.teacher_forcing if self.training else 1.0
        parallel = tf >= 1.0 and (
            self.kind == "none" or (self.kind == "luong" and not self.cfg.input_feeding)
        )
        if parallel:
            return self._forward_parallel(emb, state)
        feats, attn = [], []
        inp = emb[:, 0]
        for t in range(tgt_in.size(1)):
            f, state, w = self._features(inp, state)
            feats.append(f)
            attn.append(w)
            if t + 1 < tgt_in.size(1):
                inp = emb[:, t + 1]
                if tf < 1.0:  # scheduled sampling: sometimes feed the model's own prediction
                    use_pred = torch.rand(tgt_in.size(0), 1, device=tgt_in.device) >= tf
                    pred = self.out(self.dropout(f)).argmax(-1)
                    inp = torch.where(use_pred, self.dropout(self.tgt_embed(pred)), inp)
        logits = self.out(self.dropout(torch.stack(feats, 1)))  # one big projection for all steps
        weights = torch.stack(attn, 1) if self.attention is not None else None
        return logits, weights

    def _forward_parallel(self, emb: Tensor, state: State) -> tuple[Tensor, Tensor | None]:
        out, state = self._rnn(emb, state)  # (B, T, H): the decoder RNN over the whole target at once
        weights, context = None, None
        feats = out
        if self.kind == "luong":
            context, weights = self.attention(out, state["memory"], state["mask"], state["keys"])
            feats = torch.tanh(self.combine(torch.cat([context, out], -1)))
        if self.cfg.deep_output:
            feats = torch.cat([feats, emb] if context is None else [feats, context, emb], -1)
        return self.out(self.dropout(feats)), weights
