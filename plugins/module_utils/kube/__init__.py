# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Raw Kubernetes: the one client of the collection and the Events it records. Nothing here knows Pinot.
See docs/architecture.md."""
