"""Its identity shows whether the workflow sandbox re-imported this module or passed it through."""

_ANCHOR = object()
TOKEN = id(_ANCHOR)  # differs in every copy of this module that is alive at the same time
