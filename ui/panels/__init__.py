"""The parts of each page, one module per page (and its large parts)."""
