"""The toolchain matrix: data, schema, queries."""

from wheelfleet.matrix.load import load_matrix
from wheelfleet.matrix.model import Image, Matrix, Python

__all__ = ["Image", "Matrix", "Python", "load_matrix"]
