"""``python -m jwt_wsgi``: the same as the ``jwt-wsgi`` command."""

import sys

from .cli import main

sys.exit(main())
