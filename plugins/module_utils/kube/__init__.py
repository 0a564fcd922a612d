# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Raw Kubernetes: the one client of the collection, the Events it records, and what the apiserver's objects say
of a rollout (status). Nothing here knows Pinot. See docs/architecture.md."""
