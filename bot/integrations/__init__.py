"""Other services hookbot calls: the GitHub API (PyGithub) and the tunnel (pyngrok)."""
