"""The report's sections, one module each: what the section measures (a typed result) and how it reads."""
