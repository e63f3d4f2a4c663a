import sys

from varde.clients.cli import main

sys.exit(main())
