"""``python -m deconfliction.cli``: the same command as ``deconfliction``."""

from deconfliction.cli.app import main

__all__: list[str] = []

if __name__ == "__main__":
    main()
