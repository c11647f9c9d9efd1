"""The tutorial's and the exercises' later chapters, one module each (see ../cells.py)."""
