"""Process infrastructure the services use: in-process caches, rate limiting, the fetch-log writer thread, GC pacing."""
