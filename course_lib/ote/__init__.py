"""OTE / GC-OTE series (Tang et al., ACL 2020): orthogonal relation transforms with graph context.

The knowledge-graph machinery (data, sampling, loss, evaluator, TransE/RotatE) is the shared
:mod:`course_lib.kg`; this package adds the orthogonalisation φ, the scaled orthogonal transform, OTE and GC-OTE,
and the series' presets, experiments, claims, views and exercises.
"""
from course_lib.ote.models import GCOTE, OTE, group_distance
from course_lib.ote.orthogonal import (
    gram_schmidt,
    inverse_orthogonal_transform,
    orthogonal_transform,
    orthogonalize,
    orthogonalize_matrix_exp,
    orthogonalize_qr,
    released_inverse,
    scale_values,
)

__all__ = ["GCOTE", "OTE", "gram_schmidt", "group_distance", "inverse_orthogonal_transform",
           "orthogonal_transform", "orthogonalize", "orthogonalize_matrix_exp", "orthogonalize_qr",
           "released_inverse", "scale_values"]
