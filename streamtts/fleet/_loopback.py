"""``ray`` (the command) keeping ``127.0.0.1`` as the node's address.

Ray replaces ``--node-ip-address 127.0.0.1`` (and ``localhost``) with the
address of the machine's default route, silently, and then binds its
servers on every interface. A fleet tried on one machine should not be
reachable from the network, so :mod:`.local` starts Ray through this
module: the same command line, with that replacement turned off. Usage:
``python -m streamtts.fleet._loopback start --head --node-ip-address
127.0.0.1 ...``.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    import ray._private.services as services
    from ray.scripts.scripts import main as ray_main

    services.resolve_ip_for_localhost = lambda host: host
    # Every process the node starts (its dashboard, its workers: a Serve
    # replica connecting to Ray) then takes 127.0.0.1 as the node's address
    # too. Set after Ray read it here: this command itself would refuse to
    # start a worker node with it.
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    sys.exit(ray_main())


if __name__ == "__main__":
    main()
