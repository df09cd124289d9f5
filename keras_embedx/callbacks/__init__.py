"""Keras callbacks of keras_embedx."""

from keras_embedx.callbacks.projector import ProjectorCallback
from keras_embedx.callbacks.unfreeze import UnfreezeSchedule

__all__ = ["ProjectorCallback", "UnfreezeSchedule"]
