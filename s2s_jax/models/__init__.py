"""Flax modules of the encoder-decoder, assembled by seq2seq.py from the parts in registry.py."""
