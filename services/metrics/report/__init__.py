"""Printable reports: a partnership's year or quarter as one self-contained HTML file, or as a PDF."""
