"""`make bench`: pinotops.k8s against a hand-written kubernetes.core + uri playbook (see __main__.py)."""
