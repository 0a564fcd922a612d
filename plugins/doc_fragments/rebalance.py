# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The rebalance parameters, sent explicitly (module_utils/pinot/rebalance.py PARAMETERS), and the job options."""

    DOCUMENTATION = r"""
options:
  downtime:
    description: Move all replicas of a segment at once (faster; queries of the moved segments may fail meanwhile).
    type: bool
    default: false
  min_available_replicas:
    description:
      - Replicas of every segment that stay serving during a no-downtime rebalance; a negative value is how many
        may be down at once.
    type: int
    default: 1
  include_consuming:
    description: Also move the consuming segments of a REALTIME table.
    type: bool
    default: true
  reassign_instances:
    description: Recompute the instance assignment from the table's tenants and instance config first.
    type: bool
    default: true
  bootstrap:
    description: Reassign every segment from scratch instead of keeping what is in place.
    type: bool
    default: false
  best_efforts:
    description: Go on when the external view does not converge in time, instead of failing.
    type: bool
    default: false
  low_disk_mode:
    description: Add a segment to a new server only after removing it from the old one (needs free disk nowhere).
    type: bool
    default: false
  minimize_data_movement:
    description: Keep the instance assignment as close as possible to the current one (Pinot 1.4+).
    type: str
    choices: [ENABLE, DISABLE, DEFAULT]
    default: ENABLE
  batch_size_per_server:
    description: Segments moved to one server per step; V(-1) is no limit (Pinot 1.4+).
    type: int
    default: -1
  update_target_tier:
    description: Also move segments to the tier their age puts them on.
    type: bool
    default: false
  force_commit:
    description: Commit the consuming segments before they are moved (Pinot 1.4+).
    type: bool
    default: false
  allow_peer_download_data_loss:
    description: Allow a move that may lose data when segments are only on peers, not in the deep store (Pinot 1.5+).
    type: bool
    default: false
  disk_utilization_threshold:
    description: The disk use (0 to 1) above which the disk pre-checks fail. Left out, the controller's setting.
    type: float
  external_view_stabilization_timeout_ms:
    description: How long Pinot waits for the external view to match each step. Left out, Pinot's default (one hour).
    type: int
  accept_pre_check_errors:
    description: Rebalance even when a pre-check reports V(ERROR); the errors become warnings.
    type: bool
    default: false
  wait:
    description: Wait until the rebalance job ends.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for each rebalance job.
    type: int
    default: 600
  cancel_on_timeout:
    description:
      - Cancel a job still running after O(wait_timeout); the task fails either way.
      - Pinot before 1.5 cannot cancel a tenant rebalance job; it is then left running, and the failure says so.
    type: bool
    default: true
"""
