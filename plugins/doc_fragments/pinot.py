# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Options shared by every module that talks to the Pinot controller."""

    DOCUMENTATION = r"""
options:
  controller_url:
    description:
      - Base URL of the Pinot controller REST API, for example V(http://pinot-controller:9000).
      - If not set, the environment variable E(PINOT_CONTROLLER_URL) is used.
    type: str
    required: true
  username:
    description:
      - User for HTTP basic authentication to the controller.
      - If not set, the environment variable E(PINOT_USERNAME) is used.
    type: str
  password:
    description:
      - Password for HTTP basic authentication. Never shown in output, diffs or errors.
      - If not set, the environment variable E(PINOT_PASSWORD) is used.
    type: str
  token:
    description:
      - Sent verbatim as the C(Authorization) header, for example V(Basic YWRtaW46c2VjcmV0) or V(Bearer ...).
        Takes precedence over O(username)/O(password).
      - If not set, the environment variable E(PINOT_TOKEN) is used.
    type: str
  validate_certs:
    description:
      - Verify the controller's TLS certificate. Turn off only for tests.
    type: bool
    default: true
  ca_cert:
    description:
      - Path to a CA bundle used to verify the controller's certificate.
    type: path
  client_cert:
    description:
      - Path to a client certificate (PEM) for mutual TLS.
    type: path
  client_key:
    description:
      - Path to the private key of O(client_cert), if it is not inside the certificate file.
    type: path
  timeout:
    description:
      - Seconds to wait for each HTTP response.
    type: float
    default: 30.0
  retries:
    description:
      - How many times to retry a request that failed to connect or got HTTP 502, 503 or 504,
        with exponential backoff. Only idempotent requests are retried after they reached the server.
    type: int
    default: 4
notes:
  - Connection options can be set once for every module that talks to the Pinot controller with
    C(module_defaults) and the action group C(group/pinotops.k8s.pinot).
requirements:
  - requests
"""

    # The options above as the suboptions of one option, for the modules whose own connection options are
    # Kubernetes' (their action group is group/pinotops.k8s.k8s).
    NESTED = r"""
options:
  pinot:
    description:
      - Connection to the Pinot controller. The options, defaults and environment variables (E(PINOT_CONTROLLER_URL),
        ...) of the modules of C(group/pinotops.k8s.pinot); C(module_defaults) for that group do not reach them here.
      - Can be left out when E(PINOT_CONTROLLER_URL) is set.
    type: dict
    suboptions:
      # BEGIN generated from DOCUMENTATION above by `make generated-docs`
      controller_url:
        description:
          - Base URL of the Pinot controller REST API, for example V(http://pinot-controller:9000).
          - If not set, the environment variable E(PINOT_CONTROLLER_URL) is used.
        type: str
        required: true
      username:
        description:
          - User for HTTP basic authentication to the controller.
          - If not set, the environment variable E(PINOT_USERNAME) is used.
        type: str
      password:
        description:
          - Password for HTTP basic authentication. Never shown in output, diffs or errors.
          - If not set, the environment variable E(PINOT_PASSWORD) is used.
        type: str
      token:
        description:
          - Sent verbatim as the C(Authorization) header, for example V(Basic YWRtaW46c2VjcmV0) or V(Bearer ...).
            Takes precedence over O(pinot.username)/O(pinot.password).
          - If not set, the environment variable E(PINOT_TOKEN) is used.
        type: str
      validate_certs:
        description:
          - Verify the controller's TLS certificate. Turn off only for tests.
        type: bool
        default: true
      ca_cert:
        description:
          - Path to a CA bundle used to verify the controller's certificate.
        type: path
      client_cert:
        description:
          - Path to a client certificate (PEM) for mutual TLS.
        type: path
      client_key:
        description:
          - Path to the private key of O(pinot.client_cert), if it is not inside the certificate file.
        type: path
      timeout:
        description:
          - Seconds to wait for each HTTP response.
        type: float
        default: 30.0
      retries:
        description:
          - How many times to retry a request that failed to connect or got HTTP 502, 503 or 504, with exponential
            backoff. Only idempotent requests are retried after they reached the server.
        type: int
        default: 4
      # END generated
"""

    ACTION_GROUP = r"""
attributes:
  action_group:
    description: Use C(group/pinotops.k8s.pinot) in C(module_defaults) to set the controller connection once
      for every module that talks to the Pinot controller. The modules that talk to Kubernetes are in
      C(group/pinotops.k8s.k8s).
    support: full
    membership:
      - pinotops.k8s.pinot
"""

    STATE = r"""
options:
  state:
    description:
      - V(present) creates or updates the object so that it matches the definition; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    description: Predicts C(changed) exactly from the live object and writes nothing.
  diff_mode:
    support: full
    description: Shows the normalised object before and after; secret values are masked.
"""

    INFO = r"""
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Read-only; there is nothing to diff.
"""
