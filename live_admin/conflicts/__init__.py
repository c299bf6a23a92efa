"""Conflict-safe saves: the state token a form is rendered with, checked forms and formsets, and
the ModelAdmin side that merges disjoint edits and refuses real conflicts."""
