"""coursebook: deep-learning coursework as a reproducible book.

The package holds every piece of logic the chapter notebooks use. Importing it is cheap:
modules that need Keras import it themselves, so the runner (``python -m coursebook``)
validates parameters and checks the cache without starting a deep-learning backend.
"""

__version__ = "0.1.0"

# The two halves: `book` (chapters, cache, pages; it imports nothing of the course) and `course`
# (the coursework). The book asks the course through `book.hooks`, which imports this module on first use.
COURSE_MODULE = "coursebook.course.registration"
