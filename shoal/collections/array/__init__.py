"""shoal.array: blocked NumPy arrays (see ``shoal/array.py`` for the public names)."""
