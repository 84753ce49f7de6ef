"""Tests of the tracking server: API, storage, reliability under faults."""
