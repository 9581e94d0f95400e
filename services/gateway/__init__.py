"""gateway: the only public HTTP entry — German pages, the /api proxy, CSRF and security headers."""
