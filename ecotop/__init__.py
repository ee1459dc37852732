"""ecotop: `top` for a super-app ecosystem.

The repository keeps the design card's top-level folders (`store/`, `queries/`, `sample_data/`,
`tui/`); this package holds them as symlinks so that everything installs, type-checks and is
import-linted under the one name `ecotop.*` and nothing generic lands at the top of site-packages.
"""
