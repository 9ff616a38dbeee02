"""`python -m modsim.cli`: the command line."""

from . import main

main()
