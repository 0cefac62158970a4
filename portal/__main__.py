"""Allow ``python -m portal``."""

from portal.cli import main

if __name__ == "__main__":
    main()
