"""coursebook: deep-learning coursework as a reproducible book.

The package holds every piece of logic the chapter notebooks use. Importing it is cheap:
modules that need Keras import it themselves, so the runner (``python -m coursebook``)
validates parameters and checks the cache without starting a deep-learning backend.
"""

__version__ = "0.1.0"
