"""``python -m automations_cli``: the same as the ``automations`` script."""

from automations_cli.main import main

main()
