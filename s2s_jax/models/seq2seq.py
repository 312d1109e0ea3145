"""The encoder-decoder, assembled from the registry by a ModelConfig.

It owns the embeddings (shared between source and target with `src_trg` weight tying) and the
output layer (the target embedding transposed with `..._softmax` tying), so encoders and decoders
only turn ids into states. Every decoder offers the same three calls:
`init_state(enc, max_len) -> (carry, memory)`, `decode_sequence(enc, trg_in, train) -> hidden`,
`decode_step(carry, memory, prev_ids) -> (hidden, carry, attention)`.
"""

import flax.linen as nn

from s2s_jax.config import ModelConfig
from s2s_jax.models import embed, initializers, registry


class Seq2Seq(nn.Module):
  config: ModelConfig
  hoist: bool = True  # hoisted weight gradients in the recurrences (False: plain lax.scan)
  vocab_major_output: bool = False  # output weight held (V, H): embed.vocab_major_params

  def setup(self):
    c = self.config
    emb_init = initializers.for_config(c, "embedding")
    self.target_embed = embed.Embedding(c.vocab_size_target, c.num_embed_target, emb_init,
                                        c.embed_dropout_target)
    if c.weight_tying_type.startswith("src_trg"):
      source_embed = embed.Shared(self.target_embed, c.embed_dropout_source)
    else:
      source_embed = self.source_embed = embed.Embedding(
          c.vocab_size_source, c.num_embed_source, emb_init, c.embed_dropout_source)
    self.encoder = registry.get("encoder", c.encoder_type)(c, source_embed, self.hoist)
    self.decoder = registry.get("decoder", c.decoder_type)(c, self.target_embed, self.hoist)
    self.output = embed.OutputLayer(
        c.vocab_size_target, c.decoder_num_hidden,
        initializers.for_config(c, "kernel"),
        self.target_embed if c.weight_tying_type.endswith("softmax") else None,
        self.vocab_major_output, c.dtype)

  def __call__(self, src, trg_in, train: bool = False):
    """Teacher-forced logits (batch, target, V)."""
    enc = self.encoder(src, train)
    return self.output(self.decoder.decode_sequence(enc, trg_in, train))

  def encode(self, src):
    return self.encoder(src)

  def init_state(self, enc, max_len: int):
    """(carry, memory) for a search of at most max_len steps (the Transformer's cache length)."""
    return self.decoder.init_state(enc, max_len)

  def decode_step(self, carry, memory, prev_ids):
    """(logits (batch, V), carry, attention (batch, source)) for the previous tokens (batch,)."""
    hidden, carry, probs = self.decoder.decode_step(carry, memory, prev_ids)
    return self.output(hidden), carry, probs
