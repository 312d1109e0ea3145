set -e
cd /work/main
OUT=/tmp/s2s_seed2; mkdir -p $OUT
for dtype in float32 bfloat16; do
  /work/venv/bin/python -m s2s_jax.bin.bench --config=configs/lstm_attn.py:data=multi30k,peers=true --config.seed=2 --config.model.dtype=$dtype --steps=400 --json=$OUT/$dtype.json 2>&1 | grep -v -E '^(WARNING|I0000|W0000|E0000)' > $OUT/$dtype.log
done
/work/venv/bin/python experiments/2026-12-01_train_speed/compare_precisions.py $OUT/float32.json $OUT/bfloat16.json --plot=$OUT/curves.png > $OUT/compare.txt
