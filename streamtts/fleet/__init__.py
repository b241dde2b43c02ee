"""A streamtts fleet on Ray Serve: many replicas behind one address.

Each replica is the engine of ``streamtts serve`` (one loaded voice, its
scheduler, its admission) in a Ray actor, serving the HTTP doors (OpenAI's
``/v1/audio/speech``, ``/v1/models``, ``/v1/voices``, the WebSocket
``/v1/stream``) through Ray's proxy; a Wyoming door on each node forwards
Home Assistant to the fleet. Two Ray Serve applications::

    serve run streamtts.fleet:app sessions=4 token=SECRET max_replicas=8
    serve run streamtts.fleet:wyoming port=10200 nodes=2 token=SECRET

or ``serve deploy deploy/fleet.yaml``. Both names are application
builders, as Ray's convention has them: called with the arguments of
``serve run`` (``key=value``) or of a config's ``args:``
(:class:`FleetOptions`, :class:`DoorOptions`); an unknown argument is an
error. Every node's ``ray start`` should have in its environment
``RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH=streamtts.fleet.proxy:middlewares``
(:mod:`.proxy`: clients of a lost replica are told so, Ray's queue is
bounded) and ``RAY_SERVE_PROXY_PREFER_LOCAL_NODE_ROUTING=0`` (a session
goes to the least busy replica, not to one on the proxy's own node).

Needs ``pip install 'streamtts[fleet]'``.
"""

from __future__ import annotations

from typing import Any

from ._door import WyomingDoor
from ._options import DoorOptions, FleetOptions, door_options, replica_options
from ._replica import REPLICA_HEADER, StreamTTS

__all__ = ["REPLICA_HEADER", "DoorOptions", "FleetOptions", "app", "wyoming"]


def app(args: dict[str, Any] | FleetOptions) -> Any:
    """The fleet's replicas (``streamtts.fleet:app``): a Ray Serve application."""
    from ray import serve

    options = args if isinstance(args, FleetOptions) else FleetOptions.model_validate(args)
    deployment: Any = serve.deployment(serve.ingress()(StreamTTS))
    return deployment.options(**replica_options(options)).bind(options)


def wyoming(args: dict[str, Any] | DoorOptions) -> Any:
    """The Wyoming doors (``streamtts.fleet:wyoming``): a Ray Serve application."""
    from ray import serve

    options = args if isinstance(args, DoorOptions) else DoorOptions.model_validate(args)
    deployment: Any = serve.deployment(WyomingDoor)
    return deployment.options(**door_options(options)).bind(options)
