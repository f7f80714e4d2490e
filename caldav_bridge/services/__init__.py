"""Use cases. Each takes a unit of work and an :class:`Actor`; entry points call these."""
