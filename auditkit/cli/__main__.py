"""``python -m auditkit.cli``: the ``auditkit`` command."""

from . import main

main()
