"""Attention flavours for the RNN decoder (spec §5.5), one module each; see base.py for the contract."""
