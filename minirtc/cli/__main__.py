"""`python -m minirtc.cli` is the `minirtc` command."""

from minirtc.cli import main

if __name__ == "__main__":
    main()
