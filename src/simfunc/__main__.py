"""``python -m simfunc`` is the same as the ``simfunc`` command."""

from simfunc.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
