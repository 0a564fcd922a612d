# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pinot on Kubernetes: the cluster description (spec, options), its manifests (render), their apply, the gated
rollout, and the glue of the pinot_cluster* modules (module.py). Built on kube/ and pinot/. See
docs/architecture.md."""
