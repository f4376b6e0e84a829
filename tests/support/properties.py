"""Hypothesis settings and the JSON values the property tests throw at every parser."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

PROPERTY = settings(
    max_examples=int(os.environ.get("LETTERS_TEST_PROPERTY_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

text = st.text(
    alphabet=st.characters(codec="utf-8", categories=None)
    | st.sampled_from("0123456789-.:T ²٣\u202e\udc00"),
    max_size=30,
)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | text
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=20,
)
