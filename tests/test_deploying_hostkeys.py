"""A converge started without the inventory's guard still changes nothing on a host whose SSH
key was never verified (unit level: pyinfra's own Inventory/State objects, no connection)."""

from __future__ import annotations

from pyinfra.api import Config, Inventory, State
from pyinfra.context import ctx_host, ctx_state

from wheelfleet.deploying import current_selection
from wheelfleet.errors import InputError

GROUP = {"pythons": ["3.12"], "arches": ["x86_64"], "image_policies": ["manylinux_2_28"]}


def selection_for(host_data: dict) -> object:
    inventory = Inventory((["b1"], {}), linux=(["b1"], {**GROUP, **host_data}))
    state = State(inventory, Config())
    host = inventory.get_host("b1")
    with ctx_state.use(state), ctx_host.use(host):
        return current_selection()


def test_unpinned_host_gets_no_selection() -> None:
    result = selection_for({})
    assert isinstance(result, InputError)
    assert "would trust whatever host key it is shown first" in str(result)
    assert "\n" not in str(result)


def test_pinned_or_opted_out_host_converges() -> None:
    assert not isinstance(selection_for({"ssh_strict_host_key_checking": "yes"}), InputError)
    assert not isinstance(selection_for({"host_key_trust": "first-use"}), InputError)
    assert isinstance(selection_for({"ssh_strict_host_key_checking": "no",
                                     "host_key_trust": "first-use"}), InputError)
