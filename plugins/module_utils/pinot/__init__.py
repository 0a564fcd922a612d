# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pinot's controller: its REST client, the reconcile engine and the resource handlers it runs (schema, table,
tenant, user), the operations on live objects (consumption, reloads, rebalances, instances, health gates) and the
glue every Pinot module calls (module.py). Nothing here talks to Kubernetes. See docs/architecture.md."""
