"""Keras callbacks of keras_embedx."""

__all__ = []
