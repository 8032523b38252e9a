"""Data preparation for easytune: the embedded procedural text-motion dataset (`data_prep.synthetic`).

    python -m data_prep.synthetic --out DIR --n N --seed S [--overwrite] [--workers W]
"""
__all__ = ['DEFAULT_N', 'GENERATOR_VERSION', 'generate']


def __getattr__(name):   # lazy, so that `python -m data_prep.synthetic` does not import the module twice
    if name in __all__:
        from . import synthetic
        return getattr(synthetic, name)
    raise AttributeError(f"module 'data_prep' has no attribute {name!r}")
