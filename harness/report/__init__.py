"""Renderers of the one result model (terminal, JSON); nothing below knows about formats."""
