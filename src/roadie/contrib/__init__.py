"""Integrations with frameworks and services; each imports its dependency only when used."""
