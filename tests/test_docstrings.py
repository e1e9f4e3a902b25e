"""Every public name has a numpydoc docstring with an example (which runs as a doctest)."""

import inspect

import pytest

import sklearn_songpop
from sklearn_songpop import augment, plotting

PUBLIC = [(n, getattr(sklearn_songpop, n)) for n in sklearn_songpop.__all__
          if callable(getattr(sklearn_songpop, n))]
PUBLIC += [(f"plotting.{n}", getattr(plotting, n)) for n in plotting.__all__]
PUBLIC += [(f"augment.{n}", getattr(augment, n)) for n in augment.__all__]


@pytest.mark.parametrize(("name", "obj"), PUBLIC, ids=[n for n, _ in PUBLIC])
def test_public_names_have_numpydoc_examples(name, obj):
    doc = inspect.getdoc(obj) or ""
    assert doc, f"{name} has no docstring"
    assert "Examples\n--------" in doc, f"{name} has no Examples section"
    try:
        signature = inspect.signature(obj)
    except ValueError:  # warnings and other built-in subclasses
        signature = None
    params = [] if signature is None else [
        p for p in signature.parameters if p not in ("self", "args", "kwargs")]
    if params:
        assert "Parameters\n----------" in doc, f"{name} has no Parameters section"
    if inspect.isfunction(obj) and signature.return_annotation not in (None, "None"):
        assert "Returns\n-------" in doc, f"{name} has no Returns section"
