"""TensorFlow fast paths of the table lookup (imported only on TensorFlow)."""

import keras
import tensorflow as tf


def take_rows(table, ids):
    """`table[ids]` for in-range ids: `tf.gather`, without the negative-id rewrite."""
    if isinstance(table, keras.Variable):
        table = table.value
    return tf.gather(table, ids)


def dense_ranks(args):
    """The inputs' ranks if XLA can take them all (dense, known rank), else None."""
    if any(isinstance(a, (tf.RaggedTensor, tf.SparseTensor)) for a in args):
        return None
    ranks = tuple(tf.TensorShape(a.shape).rank for a in args)
    return None if None in ranks else ranks


def in_graph():
    return not tf.executing_eagerly()


def one_cluster():
    """Marks the ops built inside it for one XLA cluster."""
    return tf.xla.experimental.jit_scope(separate_compiled_gradients=False)


def xla(pure):
    """`pure` compiled by XLA, traced once per rank (sizes generalise to None)."""
    return tf.function(pure, jit_compile=True, reduce_retracing=True, autograph=False)
