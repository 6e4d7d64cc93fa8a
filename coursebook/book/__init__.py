"""The book machinery: where files live (``paths``), chapter parameters (``params``), the cache
(``cache``), the runner that executes chapters and builds the book (``runner``, ``cli``), and the
kernel side of a run (``runtime``: run start, run card, glue and tables).

Nothing here knows about deep learning or imports the course: what the book needs from the
coursework it asks through ``hooks``. The runner imports no backend.
"""
