"""Tests of ``wheelfleet.lab`` (most need root: real hosts, a real registry, podman), and the
test-only helpers of the lab: registry faults (:mod:`.faults`) and fleet fixtures."""
