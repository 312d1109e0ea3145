"""Translation with a trained model: a jitted encode + beam search per (beam, source bucket).

Sentences are sorted by length and decoded in batches of `batch_size` rows padded to a source
bucket (a multiple of SOURCE_BUCKET); results come back in input order. A batch with fewer
sentences keeps its rows: the empty ones are done from the start and the search's first
compaction drops them (see beam_search), so one program per bucket serves every batch size. The
output limit of a sentence of n tokens is ceil((mean + k * std) * n) from the training length
ratio (spec §5.10).
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from s2s_jax import beam_search as beam_lib
from s2s_jax.config import DecodeConfig, ModelConfig
from s2s_jax.data import subwords
from s2s_jax.data import vocab as vocab_lib
from s2s_jax.errors import UserError
from s2s_jax.models import embed, precision
from s2s_jax.models.seq2seq import Seq2Seq

SOURCE_BUCKET = 16


@dataclasses.dataclass
class SourceItem:
  ids: list  # source token ids
  attention: bool = False  # return the attention matrix
  nbest: int = 1  # hypotheses to return, best first (at most the beam size)
  raw: bool = False  # the request was raw text: answer with raw text (subword models only)


@dataclasses.dataclass
class Decoded:
  ids: list             # target ids, no <s>, </s> or <pad>
  score: float          # length-normalised negative log-probability (lower is better)
  attention: np.ndarray | None = None  # (len(ids), source ids) of the best, when asked for
  nbest: list = dataclasses.field(default_factory=list)  # [(ids, score)], best first


@dataclasses.dataclass
class Translation:
  tokens: list          # target tokens, no <s>, </s> or <pad>
  score: float          # length-normalised negative log-probability (lower is better)
  attention: np.ndarray | None = None  # (len(tokens), source tokens), when asked for
  nbest: list = dataclasses.field(default_factory=list)  # [(tokens, score)], best first


class Decoder:
  """Jitted batched beam search for one model and its parameters (ids in, ids out)."""

  def __init__(self, model_config: ModelConfig, params, decode: DecodeConfig):
    self.config = model_config
    self.decode_config = decode
    self.model = Seq2Seq(model_config, hoist=False)  # for the checkpoint's params, as given
    self._search_model = Seq2Seq(model_config, hoist=False, vocab_major_output=True)
    self.params = params  # as a checkpoint holds them
    # The search's copy, whose output weight is held vocabulary-major (embed.vocab_major_params).
    self._search_params = self._search_layout(params)
    self._search = jax.jit(self._search_fn,
                           static_argnames=("beam", "max_len", "with_attention", "exhaustive"))

  def _search_layout(self, params):
    return precision.cast_matrices(embed.vocab_major_params(params), self.config.dtype)

  def _start(self, params, src, beam, max_len):
    """(step function, decoder carry, per-sentence memory), both with `beam` rows per sentence,
    for a search of at most max_len steps."""
    model, variables = self._search_model, {"params": params}
    enc = model.apply(variables, src, method=Seq2Seq.encode)
    carry, memory = model.apply(variables, enc, max_len, method=Seq2Seq.init_state)
    carry, memory = jax.tree_util.tree_map(lambda x: jnp.repeat(x, beam, axis=0), (carry, memory))

    def step(prev, carry, memory):
      return model.apply(variables, carry, memory, prev, method=Seq2Seq.decode_step)
    return step, carry, memory

  def _search_fn(self, params, src, max_lengths, beam, max_len, with_attention, exhaustive):
    step, carry, memory = self._start(params, src, beam, max_len)
    d = self.decode_config
    tokens, scores, lengths, attention = beam_lib.beam_search(
        step, carry, memory, max_lengths, beam=beam, max_len=max_len, source_len=src.shape[1],
        alpha=d.length_penalty_alpha, beta=d.length_penalty_beta, with_attention=with_attention,
        stop_early=not exhaustive)
    return tokens, scores, lengths, attention[:, 0]  # only the best hypothesis's attention

  def max_output_length(self, source_length):
    c = self.config
    factor = c.length_ratio_mean + self.decode_config.max_output_length_num_stds * c.length_ratio_std
    return max(1, int(math.ceil(factor * source_length)))

  @staticmethod
  def source_bucket(length):
    return max(SOURCE_BUCKET, -(-length // SOURCE_BUCKET) * SOURCE_BUCKET)

  def warm_up(self, beam=None, with_attention=False):
    """Compiles the search for every source bucket up to max_seq_len_source."""
    for length in range(SOURCE_BUCKET, self.source_bucket(self.config.max_seq_len_source) + 1,
                        SOURCE_BUCKET):
      self.decode_ids([[vocab_lib.UNK_ID] * min(length, self.config.max_seq_len_source)], beam,
                      with_attention)

  def decode_ids(self, sources, beam=None, with_attention=False, nbest=1, params=None):
    """sources: list of id lists. Returns a Decoded per source, in input order.

    params: decode with these (e.g. the trainer's current ones) instead of the decoder's own.

    nbest > 1 asks for that many hypotheses per sentence (at most the beam): the search then runs
    until every hypothesis is finished, as Sockeye's does, instead of stopping at the best.
    """
    beam = beam or self.decode_config.beam_size
    search_params = self._search_params if params is None else self._search_layout(params)
    if not 1 <= nbest <= beam:
      raise UserError(f"nbest is {nbest}; it must be between 1 and the beam size ({beam})")
    rows = self.decode_config.batch_size
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    results = [None] * len(sources)
    for start in range(0, len(order), rows):
      chunk = order[start:start + rows]
      src_len = self.source_bucket(max(len(sources[i]) for i in chunk))
      src = np.zeros((rows, src_len), np.int32)
      limits = np.zeros((rows,), np.int32)  # 0: an empty row, done from the start
      for r, i in enumerate(chunk):
        src[r, :len(sources[i])] = sources[i]
        limits[r] = self.max_output_length(len(sources[i]))
      max_len = self.max_output_length(src_len)
      tokens, scores, lengths, att = jax.device_get(self._search(
          search_params, src, limits, beam=beam, max_len=max_len,
          with_attention=with_attention, exhaustive=nbest > 1))
      for r, i in enumerate(chunk):
        hyps = [(_strip(tokens[r, k, :lengths[r, k]]), float(scores[r, k])) for k in range(nbest)
                if scores[r, k] < beam_lib.INF / 2]  # unfinished hypotheses were dropped
        ids, score = hyps[0]
        matrix = att[r, :len(ids), :len(sources[i])] if with_attention else None
        results[i] = Decoded(ids, score, matrix, hyps)
    return results

  def decode_items(self, items, beam=None):
    """items: SourceItems. Returns a Decoded per item, in order.

    An empty source gives an empty output. A source longer than max_seq_len_source is split into
    chunks of that length, each translated alone and the outputs joined, as Sockeye does: the
    score is the length-weighted mean of the chunks' scores, the attention block-diagonal, and
    the n-best list holds only the joined best.
    """
    limit = self.config.max_seq_len_source
    pieces, owners = [], []
    for k, item in enumerate(items):
      for start in range(0, len(item.ids), limit):
        pieces.append(list(item.ids[start:start + limit]))
        owners.append(k)
    with_attention = any(item.attention for item in items)
    nbest = max((item.nbest for item in items), default=1)
    decoded = self.decode_ids(pieces, beam, with_attention, nbest) if pieces else []
    parts = [[] for _ in items]
    for k, piece, result in zip(owners, pieces, decoded):
      parts[k].append((piece, result))
    return [_join(p, len(item.ids), item) for p, item in zip(parts, items)]


def _strip(ids):
  return [int(t) for t in ids if t not in (vocab_lib.EOS_ID, vocab_lib.PAD_ID)]


def _join(parts, source_len, item):
  """One result for `item` from the results of its chunks (see decode_items)."""
  if len(parts) == 1:
    _, only = parts[0]
    return Decoded(only.ids, only.score, only.attention if item.attention else None,
                   only.nbest[:item.nbest])
  ids = [t for _, d in parts for t in d.ids]
  weights = [max(len(d.ids), 1) for _, d in parts]
  score = sum(w * d.score for w, (_, d) in zip(weights, parts)) / sum(weights) if parts else 0.0
  matrix = None
  if item.attention:
    matrix = np.zeros((len(ids), source_len), np.float32)
    row = col = 0
    for piece, d in parts:
      matrix[row:row + len(d.ids), col:col + len(piece)] = d.attention
      row, col = row + len(d.ids), col + len(piece)
  return Decoded(ids, score, matrix, [(ids, score)])


class EnsembleDecoder(Decoder):
  """Several models over one vocabulary decoded as one (beyond SageMaker; Sockeye's linear
  ensemble): each step uses the mean of the models' probabilities and reports the mean of their
  attention. Output lengths follow the first model's length statistics."""

  def __init__(self, model_configs, params_list, decode: DecodeConfig):
    self.models = [Seq2Seq(c, hoist=False, vocab_major_output=True) for c in model_configs]
    self.model_configs = model_configs
    super().__init__(model_configs[0], tuple(params_list), decode)

  def _search_layout(self, params):
    return tuple(precision.cast_matrices(embed.vocab_major_params(p), c.dtype)
                 for p, c in zip(params, self.model_configs))

  def _start(self, params, src, beam, max_len):
    states = []
    for model, p in zip(self.models, params):
      enc = model.apply({"params": p}, src, method=Seq2Seq.encode)
      states.append(model.apply({"params": p}, enc, max_len, method=Seq2Seq.init_state))
    carry, memory = jax.tree_util.tree_map(lambda x: jnp.repeat(x, beam, axis=0),
                                           (tuple(c for c, _ in states), tuple(m for _, m in states)))

    def step(prev, carry, memory):
      outs = [model.apply({"params": p}, c, m, prev, method=Seq2Seq.decode_step)
              for model, p, c, m in zip(self.models, params, carry, memory)]
      log_probs = jnp.stack([jax.nn.log_softmax(logits) for logits, _, _ in outs])
      mean = jax.nn.logsumexp(log_probs, axis=0) - jnp.log(float(len(outs)))
      attention = jnp.mean(jnp.stack([att for _, _, att in outs]), axis=0)
      return mean, tuple(c for _, c, _ in outs), attention
    return step, carry, memory


class Translator:
  """Tokens in, tokens out: vocabulary mapping around a Decoder. Empty input -> empty output."""

  def __init__(self, decoder: Decoder, src_vocab, trg_vocab, subword_models=None):
    self.decoder = decoder
    self.src_vocab = src_vocab
    self.trg_words = vocab_lib.inverse(trg_vocab)
    # (source, target) SentencePiece models (data/subwords.py) for raw text in and out, or None
    self.subword_models = subword_models

  @classmethod
  def load(cls, workdir, decode: DecodeConfig, which="best"):
    """workdir: a training workdir or exported model; several, comma-separated, an ensemble."""
    from s2s_jax import checkpoint  # orbax is only needed when loading from disk
    dirs = [d for d in str(workdir).split(",") if d]
    loaded = [checkpoint.load_model(d, which) for d in dirs]
    model_config, params, src_vocab, trg_vocab = loaded[0]
    models = subwords.load_models(dirs[0], src_vocab, trg_vocab)
    if len(loaded) == 1:
      return cls(Decoder(model_config, params, decode), src_vocab, trg_vocab, models)
    for d, (_, _, src, trg) in zip(dirs[1:], loaded[1:]):
      if src != src_vocab or trg != trg_vocab:
        raise UserError(f"ensemble: {d} has other vocabularies than {dirs[0]}; an ensemble's "
                        "models must share both")
    decoder = EnsembleDecoder([m[0] for m in loaded], [m[1] for m in loaded], decode)
    return cls(decoder, src_vocab, trg_vocab, models)

  def translate(self, sentences, beam=None, with_attention=False, nbest=1):
    """sentences: list of token lists. Returns a Translation per sentence, in order."""
    items = [SourceItem(vocab_lib.ids_from_tokens(s, self.src_vocab), with_attention, nbest)
             for s in sentences]
    return [Translation(self.words(d.ids), d.score, d.attention,
                        [(self.words(ids), score) for ids, score in d.nbest])
            for d in self.decoder.decode_items(items, beam)]

  def translate_text(self, lines, beam=None, nbest=1):
    """Raw text in, raw text out, through the model's SentencePiece models: (Translations of the
    pieces, the best translation of each line as raw text)."""
    if self.subword_models is None:
      raise UserError("this model has no SentencePiece models (it was trained on words): give it "
                      "tokenized text")
    src_model, trg_model = self.subword_models
    outputs = self.translate([src_model.encode(line) for line in lines], beam, nbest=nbest)
    return outputs, [trg_model.decode(o.tokens) for o in outputs]

  def words(self, ids):
    return [self.trg_words[x] for x in ids]
