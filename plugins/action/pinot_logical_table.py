# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs pinot_logical_table with `src` found through Ansible's files search path: pinot_schema's action plugin."""

from __future__ import annotations

from ansible_collections.pinotops.k8s.plugins.action.pinot_schema import ActionModule

__all__ = ["ActionModule"]
