"""The settings, under their old name: everything lives in `ecotop.queries.settings` (no Textual)."""

import sys

from ecotop.queries import settings

# One module under two names, so `monkeypatch.setattr(config, ...)` and every caller see the same.
sys.modules[__name__] = settings
