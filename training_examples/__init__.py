"""LeJEPA training examples, written as users of sketchtest's public API.

Two trainers follow the same recipe, one per framework:

- ``python -m training_examples.torch_lejepa``: PyTorch (DDP through torchrun).
- ``python -m training_examples.jax_lejepa``: JAX and optax (data parallel over
  all local devices with sharding).
- ``python -m training_examples.study``: both trainers over several seeds, one
  run at a time, and the table and curves of the docs page.

:mod:`training_examples.common` holds the framework-free parts: data loading,
command-line options, metrics files, curves and the final linear probes.
"""
