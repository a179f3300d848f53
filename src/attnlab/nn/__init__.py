"""attnlab.nn: the one attention family, masks, positions and Transformer layers every model uses."""

from attnlab.nn.attention import (
    AdditiveAttention,
    LuongAttention,
    masked_softmax,
    scaled_dot_product_attention,
)
from attnlab.nn.masks import causal_mask, combine, padding_mask, padding_mask_from_ids, to_attention_mask
from attnlab.nn.mha import KVCache, MultiHeadAttention
from attnlab.nn.norm import LayerNorm
from attnlab.nn.positional import (
    LearnedPositionalEncoding,
    SinusoidalPositionalEncoding,
    apply_rotary,
    sinusoidal_encoding,
)
from attnlab.nn.transformer import (
    DecoderCache,
    PositionwiseFeedForward,
    TokenEmbedding,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ = [
    "AdditiveAttention",
    "DecoderCache",
    "KVCache",
    "LayerNorm",
    "LearnedPositionalEncoding",
    "LuongAttention",
    "MultiHeadAttention",
    "PositionwiseFeedForward",
    "SinusoidalPositionalEncoding",
    "TokenEmbedding",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "apply_rotary",
    "causal_mask",
    "combine",
    "masked_softmax",
    "padding_mask",
    "padding_mask_from_ids",
    "scaled_dot_product_attention",
    "sinusoidal_encoding",
    "to_attention_mask",
]
