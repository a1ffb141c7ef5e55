"""Tests for wheelfleet.testregistry (real registry, images and podman; need root)."""
