"""The programs: each module here is a command with flags of its own (console names in
pyproject.toml). The library (everything else under s2s_jax/) never imports them.

  s2s-train            train.py            train or resume (python launch.py runs it too)
  s2s-translate        translate.py        translate a file; BLEU against a reference
  s2s-serve            serve.py            the SageMaker-compatible endpoint
  s2s-batch-transform  batch_transform.py  JSON Lines in, JSON Lines out
  s2s-preprocess       preprocess.py       text -> RecordIO + vocabularies (create_vocab_proto.py)
  s2s-average          average.py          checkpoint averaging into an exported model
  s2s-plot-attention   plot_attention.py   an attention heatmap PNG
  s2s-bench            bench.py            training and decoding throughput
  s2s-loadtest         loadtest.py         requests/s and latency of a running endpoint
  s2s-sweep            sweep.py            a sweep's trials, resumably (s2s_jax/sweeps/)
  s2s-report           report.py           a sweep's tables and plots, from its folder
"""
