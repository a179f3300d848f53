"""The one search module: greedy, beam and sampling, for every sequence model attnlab trains.

A searchable model exposes three methods (RNN seq2seq, Transformer seq2seq and language models alike):

    state = model.start(src (B, S), src_len (B,))                   encode once; caches live in `state`
    logits (B, V), state, attn = model.step(prev_tokens (B,), state, attention=True)  one output position
    state = model.reorder_state(state, index (B',))                  select/repeat rows (beams)

`attn` is whatever attention the model reports for that step — (B, S) for an RNN, (B, layers, heads, S)
for a Transformer's cross-attention — and the search stacks it over time for plotting. With
`attention=False` the model may return None instead (the Transformer then runs its fused attention
kernel, which never forms the weights), for decoding that only needs the text.

Beam scores follow GNMT (Wu et al., 2016): a finished hypothesis Y scores
    log P(Y | X) / lp(Y),   lp(Y) = ((5 + |Y|) / 6) ** alpha
where |Y| counts the output tokens including </s>; alpha = 0 gives the plain summed log-probability.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from attnlab.data.vocab import Vocab
from attnlab.errors import UserError

MAX_SEED = 2**63 - 1  # torch generators take 64-bit seeds; larger ones fail with "Overflow when unpacking"


def check_seed(seed: int | None) -> None:
    """A one-line UserError for a sampling seed torch cannot take."""
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise UserError(f"--seed must be an integer from 0 to {MAX_SEED}, got {seed}")


BOS, EOS = Vocab.BOS, Vocab.EOS  # the vocabulary's ids, never literals


@dataclass
class Hypothesis:
    tokens: list[int]  # output ids without <bos>/<eos>
    score: float  # length-normalised log-probability (see module docstring)
    logprob: float  # summed log-probability of tokens (+ </s> when it was produced)
    attention: Tensor | None = None  # (T_out, ...) one row per produced token, </s> included


def length_penalty(length: int, alpha: float) -> float:
    return ((5.0 + length) / 6.0) ** alpha


def max_lengths(src_len: Tensor, ratio: float, offset: int, cap: int) -> list[int]:
    """Per-sentence output limits: ceil(ratio * |src|) + offset, at most `cap`."""
    return [min(cap, int(math.ceil(ratio * int(n))) + offset) for n in src_len.tolist()]


def _stack(steps: list[Tensor | None], row: int, upto: int) -> Tensor | None:
    if not steps or steps[0] is None:
        return None
    return torch.stack([s[row] for s in steps[:upto]], 0)


def _left_to_right(
    model, src: Tensor, src_len: Tensor, pick, limits: list[int], attention: bool = True
) -> list[Hypothesis]:
    """One token per step chosen by `pick(logits) -> (B,)`: the loop shared by greedy search and sampling."""
    state = model.start(src, src_len)
    batch = src.size(0)
    tokens = torch.full((batch,), BOS, dtype=torch.long, device=src.device)
    out_tokens, out_attn, logps = [], [], []
    done = torch.zeros(batch, dtype=torch.bool, device=src.device)
    for _ in range(max(limits)):
        logits, state, attn = model.step(tokens, state, attention=attention)
        tokens = pick(logits)
        logps.append(F.log_softmax(logits.float(), -1).gather(1, tokens[:, None]).squeeze(1))
        out_tokens.append(tokens)
        out_attn.append(attn)
        done |= tokens == EOS
        if bool(done.all()):
            break
    ids = torch.stack(out_tokens, 1).tolist()
    lp = torch.stack(logps, 1)
    hyps = []
    for b in range(batch):
        row = ids[b][: limits[b]]
        n = row.index(EOS) + 1 if EOS in row else len(row)
        total = float(lp[b, :n].sum())
        hyps.append(Hypothesis(row[: n - (EOS in row[:n])], total, total, _stack(out_attn, b, n)))
    return hyps


@torch.no_grad()
def greedy(
    model,
    src: Tensor,
    src_len: Tensor,
    *,
    max_len_ratio: float = 2.0,
    max_len_offset: int = 10,
    max_len: int = 256,
    attention: bool = True,
) -> list[Hypothesis]:
    """Batched greedy search: the argmax token at every step until </s> or the length limit.
    `attention=False` skips collecting attention maps (hypotheses get None), for BLEU-only decoding."""
    limits = max_lengths(src_len, max_len_ratio, max_len_offset, max_len)
    return _left_to_right(model, src, src_len, lambda logits: logits.argmax(-1), limits, attention)


@torch.no_grad()
def beam_search(
    model,
    src: Tensor,
    src_len: Tensor,
    *,
    beam: int = 5,
    n_best: int = 1,
    alpha: float = 0.6,
    max_len_ratio: float = 2.0,
    max_len_offset: int = 10,
    max_len: int = 256,
    attention: bool = True,
) -> list[list[Hypothesis]]:
    """Batched beam search. Returns, per sentence, the `n_best` hypotheses best first.

    All B·K beams advance together in one `model.step` call. Among the top 2K candidates of each sentence,
    those ending in </s> within the top K are finished (scored with the length penalty); the best K others
    stay alive. A sentence is done when it reaches its length limit, or when it has K finished hypotheses
    and no live beam can still beat its n-th best one (see `_settled`): stopping at K finished alone could
    return a worse translation than greedy search while a better live beam was still running.
    """
    if beam < 1 or not 1 <= n_best <= beam:
        raise ValueError(f"need beam >= 1 and 1 <= n_best <= beam, got beam={beam}, n_best={n_best}")
    device, batch, k = src.device, src.size(0), beam
    limits = max_lengths(src_len, max_len_ratio, max_len_offset, max_len)
    rows = torch.arange(batch, device=device).repeat_interleave(k)
    state = model.reorder_state(model.start(src, src_len), rows)
    tokens = torch.full((batch * k,), BOS, dtype=torch.long, device=device)
    scores = torch.zeros(batch, k, device=device)
    scores[:, 1:] = -math.inf  # all beams start identical: keep only one alive at first
    seqs = torch.zeros(batch * k, 0, dtype=torch.long, device=device)
    attn_seq: Tensor | None = None
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    done = [False] * batch
    for t in range(max(limits)):
        logits, state, attn = model.step(tokens, state, attention=attention)
        logp = F.log_softmax(logits.float(), -1)
        vocab = logp.size(-1)
        cand = (scores.view(-1, 1) + logp).view(batch, k * vocab)
        top_scores, top_idx = cand.topk(2 * k, dim=-1)  # (B, 2K): at most K of these can be </s>
        origin = top_idx // vocab + torch.arange(batch, device=device)[:, None] * k  # flat beam row
        word = top_idx % vocab
        step_attn = attn if attn is not None else None
        is_eos = (word == EOS) & torch.isfinite(top_scores)
        # Finished hypotheses: </s> candidates ranked within the top K.
        for b, j in (is_eos[:, :k]).nonzero().tolist():
            if done[b]:
                continue
            o = int(origin[b, j])
            att = None
            if step_attn is not None:
                prev = attn_seq[o] if attn_seq is not None else step_attn[o][None][:0]
                att = torch.cat([prev, step_attn[o][None]], 0)
            raw = float(top_scores[b, j])
            finished[b].append(Hypothesis(seqs[o].tolist(), raw / length_penalty(t + 1, alpha), raw, att))
        # Live beams: the best K candidates that are not </s>.
        live_scores = top_scores.masked_fill(word == EOS, -math.inf)
        keep_scores, keep = live_scores.topk(k, dim=-1)  # (B, K), indices into the 2K candidates
        new_origin = origin.gather(1, keep).view(-1)
        new_word = word.gather(1, keep).view(-1)
        seqs = torch.cat([seqs.index_select(0, new_origin), new_word[:, None]], 1)
        if step_attn is not None:
            prev = attn_seq.index_select(0, new_origin) if attn_seq is not None else None
            cur = step_attn.index_select(0, new_origin)[:, None]
            attn_seq = cur if prev is None else torch.cat([prev, cur], 1)
        scores = keep_scores
        state = model.reorder_state(state, new_origin)
        tokens = new_word
        for b in range(batch):
            if done[b]:
                continue
            if len(finished[b]) >= k and _settled(
                finished[b], scores[b], n_best, length_penalty(t + 1, alpha)
            ):
                done[b] = True
            elif t + 1 >= limits[b]:  # out of length: the live beams end here without </s>
                for j in range(k):
                    raw = float(scores[b, j])
                    if math.isfinite(raw):
                        row = b * k + j
                        att = attn_seq[row] if attn_seq is not None else None
                        finished[b].append(
                            Hypothesis(seqs[row].tolist(), raw / length_penalty(t + 1, alpha), raw, att)
                        )
                done[b] = True
            if done[b]:
                scores[b] = -math.inf
        if all(done):
            break
    return [sorted(f, key=lambda h: -h.score)[:n_best] for f in finished]


def _settled(finished: list[Hypothesis], live: Tensor, n_best: int, lp_now: float) -> bool:
    """Can no live beam still enter the n-best? Log-probabilities only fall as a beam grows, so with alpha = 0
    the best live score bounds every continuation exactly; with alpha > 0 the bound uses the current length
    (the usual heuristic: a longer hypothesis' larger penalty could still lift it)."""
    best_live = float(live.max())
    if not math.isfinite(best_live):
        return True
    nth = sorted((h.score for h in finished), reverse=True)[n_best - 1]
    return best_live / lp_now <= nth


def filter_logits(logits: Tensor, *, top_k: int | None = None, top_p: float | None = None) -> Tensor:
    """Mask logits outside the top-k tokens and outside the smallest set with probability mass >= top_p."""
    if top_k is not None and 0 < top_k < logits.size(-1):
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, -math.inf)
    if top_p is not None and 0.0 < top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        # Drop a token when the mass before it already reaches top_p (the first token always stays).
        drop_sorted = (cum - sorted_logits.softmax(-1)) >= top_p
        drop_sorted[..., 0] = False  # explicitly: a top_p below float32's smallest number would drop it too
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, -math.inf)
    return logits


def sample_next(
    logits: Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw one token per row from softmax(logits / T) restricted by top-k / top-p. T -> 0 is argmax."""
    if not 0 < temperature < math.inf:
        raise ValueError(f"temperature must be positive and finite, got {temperature}")
    if temperature < 1e-4:
        return logits.argmax(-1)
    # A temperature past float32's range is inf there, and -inf / inf (a masked token) is NaN. Past 1e30
    # every logit is ~0 anyway (a uniform draw), so clamp; float64 is not an option (no MPS support).
    logits = filter_logits(logits.float() / min(temperature, 1e30), top_k=top_k, top_p=top_p)
    probs = logits.softmax(-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def sample(
    model,
    src: Tensor,
    src_len: Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    max_len_ratio: float = 2.0,
    max_len_offset: int = 10,
    max_len: int = 256,
) -> list[Hypothesis]:
    """Ancestral sampling through the same step interface (chat replies, diverse translations)."""
    generator = None
    if seed is not None:
        generator = torch.Generator(device=src.device).manual_seed(seed)
    limits = max_lengths(src_len, max_len_ratio, max_len_offset, max_len)

    def pick(logits: Tensor) -> Tensor:
        return sample_next(logits, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator)

    return _left_to_right(model, src, src_len, pick, limits)
