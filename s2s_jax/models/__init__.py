"""Flax modules of the encoder-decoder: embeddings, encoders, attention, decoder, Seq2Seq."""
