"""Health check: every node proves, per selected image x Python, that it builds a working wheel."""
