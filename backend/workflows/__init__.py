"""The one layer that orchestrates: workflows that span apps owning data.

Each workflow calls one service per app (never another app's models for a write); the apps below
never import this package. See docs/architecture.md."""
