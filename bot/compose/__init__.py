"""Compositions: how a reply is written from the chosen evidence."""
