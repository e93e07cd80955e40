"""Only the optional C extension: everything else is in pyproject.toml.

``_tfdecode`` frames, CRC-checks and decodes TensorBoard event files in C
(about the whole cost of a first read). ``optional=True``: where no C
compiler is present the install still succeeds and the NumPy/Python
readers are used instead.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "trackui.store.importers._tfdecode",
            sources=["store/importers/_tfdecode.c"],
            depends=["store/importers/_tfdecode_crc.h", "store/importers/_tfdecode_float.h"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
