"""``python -m tuneloop ...``: the same CLI as ``tuneloop``, for launchers that start a module
(``accelerate launch -m tuneloop train``, ``torchrun -m tuneloop train``)."""

from tuneloop.cli import main

if __name__ == "__main__":
    main()
