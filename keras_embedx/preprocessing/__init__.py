"""Host-side text preprocessing, NumPy only (no Keras, no TensorFlow).

- `keras_embedx.preprocessing.chars`: character inventories and the
  `[batch, words, chars]` ids `CharEmbedding` takes.
- `keras_embedx.preprocessing.ngrams`: fastText's character n-grams and their
  hash, exactly as fastText computes them.
- `keras_embedx.preprocessing.units`: words and their units as padded arrays.

Each runs anywhere an input pipeline does: tf.data through
`tf.numpy_function`, a torch `DataLoader`, a JAX input pipeline.
"""
