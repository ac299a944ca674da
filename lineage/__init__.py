"""OpenLineage side of the add-on: what the project changes in the events the provider emits."""
