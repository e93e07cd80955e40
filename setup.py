"""Only the optional C extensions: everything else is in pyproject.toml.

``_tfdecode`` frames, CRC-checks and decodes TensorBoard event files in C
(about the whole cost of a first read). ``_sqlitecols`` reads an MLflow
database's metric rows into columns in C, linking the system SQLite (the
header from ``libsqlite3-dev``). Both are ``optional=True``, each on its
own: where no C compiler (or no SQLite header) is present the install
still succeeds without that module, and the NumPy/Python readers are used
instead.
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
        ),
        Extension(
            "trackui.store.importers._sqlitecols",
            sources=["store/importers/_sqlitecols.c"],
            libraries=["sqlite3"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
    ]
)
