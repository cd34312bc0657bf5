"""The dispatch map page: a public HTML shell and static assets; all data comes from the
token-protected API."""
