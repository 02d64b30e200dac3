"""Random arrays: ``default_rng(seed).normal(size=..., chunks=...)``.

Parameters may be arrays (NumPy or shoal) that broadcast against ``size``,
as in NumPy: ``normal(loc=means, size=(n, len(means)))``.

Every block draws from its own generator, seeded by
``numpy.random.SeedSequence(seed)`` spawned once per call and once per block,
so a seed gives the same array on every scheduler and in every run. (The
values do depend on the chunking: another cut gives other, equally random,
numbers.)

>>> rng = default_rng(42)
>>> x = rng.random((4, 4), chunks=2)
>>> same = default_rng(42).random((4, 4), chunks=2)
>>> bool((x.compute(scheduler="sync") == same.compute(scheduler="threads")).all())
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...taskgraph.core import Task
from .chunks import normalize_chunks
from .core import Array
from .expr import ArrayExpr

__all__ = ["default_rng", "Generator"]


def draw_block(shape: tuple, seeds: tuple, block_number: int, method: str, kwargs: tuple) -> np.ndarray:
    """One block: a generator seeded by the call's seed sequence and the block's number."""
    entropy, spawn_key = seeds
    seed = np.random.SeedSequence(entropy, spawn_key=spawn_key + (block_number,))
    # SFC64: about a fifth faster than PCG64 for bulk floats, and statistically sound for this use
    # (independent streams come from SeedSequence, not from jumping one generator).
    generator = np.random.Generator(np.random.SFC64(seed))
    return getattr(generator, method)(size=shape, **dict(kwargs))


def _draw_block_with_parameters(template: np.ndarray, *parameters: np.ndarray, names: tuple, seeds: tuple,
                                method: str, kwargs: tuple, numblocks: tuple, block_id: tuple = ()) -> np.ndarray:
    """One block drawn with the parameter pieces of its place (``template`` gives only its shape)."""
    number = int(np.ravel_multi_index(block_id, numblocks)) if block_id else 0
    return draw_block(template.shape, seeds, number, method, kwargs + tuple(zip(names, parameters)))


class RandomBlocks(ArrayExpr):
    """Each block drawn by ``Generator.<method>`` seeded from ``seeds`` and the block's position."""

    _parameters = ["method", "seeds", "kwargs", "chunks", "dtype"]

    @property
    def _funcname(self) -> str:
        return self.method

    def _block(self, index: tuple):
        shape = tuple(c[i] for c, i in zip(self.chunks, index))
        number = int(np.ravel_multi_index(index, self.numblocks)) if index else 0
        return Task(self._key(index), draw_block, shape, self.seeds, number, self.method, self.kwargs)


class Generator:
    """A lazy counterpart of ``numpy.random.Generator``: each call gives a new, reproducible array."""

    def __init__(self, seed: Any = None):
        self._seed = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)

    def _make(self, method: str, size: Any, chunks: Any, out_dtype: Any, **kwargs: Any) -> Array:
        arrays = {name: value for name, value in kwargs.items() if isinstance(value, Array) or np.ndim(value) > 0}
        if arrays:
            return self._make_with_array_parameters(method, size, chunks, out_dtype, kwargs, arrays)
        size = () if size is None else (size,) if isinstance(size, (int, np.integer)) else tuple(size)
        size = tuple(int(s) for s in size)
        # One child sequence per call: consecutive calls differ, the same calls in the same order repeat.
        child = self._seed.spawn(1)[0]
        probe_kwargs = dict(kwargs)
        probe = getattr(np.random.default_rng(0), method)(size=(1,), **probe_kwargs)
        dtype = np.dtype(out_dtype) if out_dtype is not None else probe.dtype
        normalized = normalize_chunks(chunks, size, dtype=dtype)
        seeds = (child.entropy, tuple(child.spawn_key))
        return Array(RandomBlocks(method, seeds, tuple(sorted(kwargs.items())), normalized, dtype))

    def _make_with_array_parameters(self, method: str, size: Any, chunks: Any, out_dtype: Any, kwargs: dict,
                                    arrays: dict) -> Array:
        """Draws whose parameters (``loc=``, ``high=``, ...) are arrays broadcast against ``size``, as in NumPy:
        each block is drawn with the pieces of the parameters that line up with it."""
        from .blockwise import map_blocks
        from .creation import asarray, empty

        arrays = {name: asarray(value) for name, value in arrays.items()}
        shapes = [a.shape for a in arrays.values()]
        try:
            broadcast = np.broadcast_shapes(*shapes)
            shape = broadcast if size is None else tuple(
                int(s) for s in ((size,) if isinstance(size, (int, np.integer)) else size))
            fits = np.broadcast_shapes(broadcast, shape) == shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"{method}: parameters of shapes {', '.join(map(str, shapes))} do not broadcast to "
                             f"size {size}")
        if out_dtype is not None:
            dtype = np.dtype(out_dtype)
        else:  # NumPy's dtype for this method, found with the scalar parameters and a 1 for each array one
            probe = {k: (1 if k in arrays else v) for k, v in kwargs.items()}
            try:
                dtype = getattr(np.random.default_rng(0), method)(size=(1,), **probe).dtype
            except ValueError:
                dtype = np.dtype(np.int64 if method in _COUNTING else np.float64)
        template = empty(shape, chunks=chunks, dtype=bool)
        aligned = []
        for a in arrays.values():
            # cut each parameter like the output on the axes it does not broadcast along
            offset = len(shape) - a.ndim
            wanted = tuple(c if n == 1 else template.chunks[offset + k]
                           for k, (c, n) in enumerate(zip(a.chunks, a.shape)))
            aligned.append(a.rechunk(wanted))
        child = self._seed.spawn(1)[0]
        scalars = tuple(sorted((k, v) for k, v in kwargs.items() if k not in arrays))
        return map_blocks(_draw_block_with_parameters, template, *aligned, names=tuple(arrays),
                          seeds=(child.entropy, tuple(child.spawn_key)), method=method, kwargs=scalars,
                          numblocks=template.numblocks, dtype=dtype)

    def random(self, size: Any = None, dtype: Any = np.float64, chunks: Any = "auto") -> Array:
        """Floats uniform in [0, 1)."""
        dtype = np.dtype(dtype)
        return self._make("random", size, chunks, dtype, dtype=dtype)

    def normal(self, loc: float = 0.0, scale: float = 1.0, size: Any = None, chunks: Any = "auto") -> Array:
        return self._make("normal", size, chunks, None, loc=loc, scale=scale)

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Any = None, chunks: Any = "auto") -> Array:
        return self._make("uniform", size, chunks, None, low=low, high=high)

    def integers(self, low: int, high: int | None = None, size: Any = None, dtype: Any = np.int64,
                 endpoint: bool = False, chunks: Any = "auto") -> Array:
        dtype = np.dtype(dtype)
        return self._make("integers", size, chunks, dtype, low=low, high=high, dtype=dtype, endpoint=endpoint)


#: the other distributions of ``numpy.random.Generator``: method -> its parameters before ``size`` (defaults
#: as NumPy's; ``_REQUIRED`` marks the ones without). Each becomes a method ``name(*params, size=None,
#: chunks='auto')`` of ``Generator`` (see ``_distribution``).
_REQUIRED = object()
_DISTRIBUTIONS = {
    "standard_normal": (), "standard_exponential": (), "standard_cauchy": (),
    "standard_gamma": (("shape", _REQUIRED),), "standard_t": (("df", _REQUIRED),),
    "exponential": (("scale", 1.0),), "poisson": (("lam", 1.0),), "rayleigh": (("scale", 1.0),),
    "chisquare": (("df", _REQUIRED),), "geometric": (("p", _REQUIRED),), "pareto": (("a", _REQUIRED),),
    "power": (("a", _REQUIRED),), "weibull": (("a", _REQUIRED),), "zipf": (("a", _REQUIRED),),
    "logseries": (("p", _REQUIRED),),
    "gamma": (("shape", _REQUIRED), ("scale", 1.0)), "beta": (("a", _REQUIRED), ("b", _REQUIRED)),
    "binomial": (("n", _REQUIRED), ("p", _REQUIRED)), "negative_binomial": (("n", _REQUIRED), ("p", _REQUIRED)),
    "lognormal": (("mean", 0.0), ("sigma", 1.0)), "laplace": (("loc", 0.0), ("scale", 1.0)),
    "logistic": (("loc", 0.0), ("scale", 1.0)), "gumbel": (("loc", 0.0), ("scale", 1.0)),
    "wald": (("mean", _REQUIRED), ("scale", _REQUIRED)), "vonmises": (("mu", _REQUIRED), ("kappa", _REQUIRED)),
    "f": (("dfnum", _REQUIRED), ("dfden", _REQUIRED)),
    "noncentral_chisquare": (("df", _REQUIRED), ("nonc", _REQUIRED)),
    "noncentral_f": (("dfnum", _REQUIRED), ("dfden", _REQUIRED), ("nonc", _REQUIRED)),
    "triangular": (("left", _REQUIRED), ("mode", _REQUIRED), ("right", _REQUIRED)),
    "hypergeometric": (("ngood", _REQUIRED), ("nbad", _REQUIRED), ("nsample", _REQUIRED)),
}
#: the ones NumPy draws as int64
_COUNTING = {"poisson", "geometric", "zipf", "logseries", "binomial", "negative_binomial", "hypergeometric"}
#: the ones with a dtype= keyword (float32 or float64)
_WITH_DTYPE = {"standard_normal", "standard_exponential", "standard_gamma"}


def _distribution(method: str, params: tuple):
    def draw(self, *args: Any, size: Any = None, chunks: Any = "auto", **kwargs: Any) -> Array:
        if len(args) == len(params) + 1 and size is None:  # size given positionally, as NumPy allows
            args, size = args[:-1], args[-1]
        if len(args) > len(params):
            raise TypeError(f"{method}() takes at most {len(params) + 1} positional arguments, got {len(args)}")
        values = dict(zip((name for name, _ in params), args))
        for name, default in params:
            if name in kwargs:
                if name in values:
                    raise TypeError(f"{method}() got multiple values for argument {name!r}")
                values[name] = kwargs.pop(name)
            elif name not in values:
                if default is _REQUIRED:
                    raise TypeError(f"{method}() missing required argument {name!r}")
                values[name] = default
        out_dtype = None
        if method in _WITH_DTYPE:
            out_dtype = values["dtype"] = np.dtype(kwargs.pop("dtype", np.float64))
        if kwargs:
            raise TypeError(f"{method}() got unexpected keyword arguments {sorted(kwargs)}")
        return self._make(method, size, chunks, out_dtype, **values)

    signature = ", ".join(name if default is _REQUIRED else f"{name}={default}" for name, default in params)
    draw.__name__ = method
    draw.__doc__ = (f"``numpy.random.Generator.{method}({signature + ', ' if signature else ''}size=None)``, lazily "
                    "and block by block (parameters may be arrays broadcast against size).")
    return draw


for _method, _params in _DISTRIBUTIONS.items():
    setattr(Generator, _method, _distribution(_method, _params))


def default_rng(seed: Any = None) -> Generator:
    """A ``Generator`` seeded like ``numpy.random.default_rng(seed)``."""
    return Generator(seed)
