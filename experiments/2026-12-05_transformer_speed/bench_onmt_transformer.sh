#!/usr/bin/env bash
# OpenNMT-py 3.5.1's Transformer on the configuration of configs/transformer.py:data=multi30k,peers=true
# (Transformer-tiny: 4+4 pre-norm layers, model 128, 4 heads, feed-forward 256, sinusoidal
# positions, one vocabulary of every word and one embedding for both sides and the output layer,
# dropout 0.3, label smoothing 0.1, Adam (0.9, 0.98), global-norm clipping 5, 128 sentences a
# batch); trains ONMT_STEPS updates, then decodes test_2016_flickr with beam 5 and greedy, batch 64.
# The pattern of ../shared/peers/bench_onmt.sh (its env.sh: venv, data, threads).
set -euo pipefail
source "${PEERS:-$(dirname "$0")/../../../shared/peers}/env.sh"
STEPS="${ONMT_STEPS:-400}"
WARMUP="${ONMT_WARMUP:-2000}"
# noam peaks at learning_rate / sqrt(hidden_size * warmup): the factor that makes its peak our 5e-3
# (2.0 before WARMUP was a variable: a 3.95e-3 peak at 2,000)
LR="$(python3 -c "import math; print(2.0 if $WARMUP == 2000 else round(5e-3 * math.sqrt(128 * $WARMUP), 4))")"
W="$PEER_OUT/onmt_transformer"; mkdir -p "$W"
export PATH="$ONMT_VENV/bin:$PATH"
cat > "$W/config.yaml" <<YAML
save_data: $W
src_vocab: $W/vocab.shared
share_vocab: true
src_vocab_size: 1000000          # no cap: every train token (count >= 1)
tgt_vocab_size: 1000000
overwrite: true
data:
  corpus_1: {path_src: $DATA/train.en, path_tgt: $DATA/train.de, transforms: [filtertoolong]}
src_seq_length: 60
tgt_seq_length: 60
encoder_type: transformer
decoder_type: transformer
position_encoding: true
enc_layers: 4
dec_layers: 4
heads: 4
hidden_size: 128
word_vec_size: 128
transformer_ff: 256
layer_norm: standard
dropout: [0.3]
attention_dropout: [0.0]
share_embeddings: true
share_decoder_embeddings: true
label_smoothing: 0.1
batch_type: sents
batch_size: 128
normalization: tokens            # per-token loss, as ours
optim: adam
adam_beta1: 0.9
adam_beta2: 0.98
decay_method: noam
learning_rate: $LR
warmup_steps: $WARMUP
max_grad_norm: 5
param_init: 0
param_init_glorot: true
train_steps: $STEPS
valid_steps: 100000000
save_checkpoint_steps: 0         # only the final save
save_model: $W/model
report_every: 50
num_workers: 0
seed: 1234
YAML
onmt_build_vocab -config "$W/config.yaml" -n_sample -1 > "$W/vocab.log" 2>&1
sed -i '/^\t/d' "$W/vocab.shared"   # the double space of train.en line 16217 (see bench_onmt.sh)
/usr/bin/time -v -o "$W/train.time" onmt_train -config "$W/config.yaml" > "$W/train.log" 2>&1
for beam in 5 1; do
  /usr/bin/time -v -o "$W/decode.beam$beam.time" onmt_translate -model "$W/model_step_$STEPS.pt" \
    -src "$DATA/test_2016_flickr.en" -output "$W/hyp.beam$beam" \
    -beam_size $beam -batch_size 64 -batch_type sents -report_time > "$W/decode.beam$beam.log" 2>&1
done
