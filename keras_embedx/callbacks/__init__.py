"""Keras callbacks of keras_embedx."""

from keras_embedx.callbacks.projector import ProjectorCallback

__all__ = ["ProjectorCallback"]
