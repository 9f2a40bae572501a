"""Run the official Shodan CLI (python3-shodan) against SHODAN_API_URL.

python3-shodan 1.28.0 hard-codes https://api.shodan.io; this wrapper points
every shodan.Shodan at $SHODAN_API_URL (as shodan-python >= 1.31 does by
itself) and, for tests, lets $SHODAN_CLI_RATE raise the library's own
1 request/second pacing. TLS trust comes from REQUESTS_CA_BUNDLE.
"""
import os
import sys

import shodan
import shodan.__main__

_init = shodan.Shodan.__init__


def _patched_init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    url = os.environ.get("SHODAN_API_URL")
    if url:
        self.base_url = url.rstrip("/")
    rate = os.environ.get("SHODAN_CLI_RATE")
    if rate:
        self.api_rate_limit = float(rate)


shodan.Shodan.__init__ = _patched_init

if __name__ == "__main__":
    sys.argv[0] = "shodan"
    sys.exit(shodan.__main__.main())
