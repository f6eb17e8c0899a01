"""What the page scripts share: widgets, the session, prefetch, and each page's panels."""
