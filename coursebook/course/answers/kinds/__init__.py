"""One module per kind of question; each registers its strategy with
:func:`coursebook.course.answers.registry.register`."""
