# Copyright: contributors to pinotops.k8s
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The cluster description, as the modules that take one (pinot_cluster, pinot_cluster_rollout) document it.
    module_utils/cluster/options.py is its argument spec; the roles' argument specs are generated from it
    (`make role-specs`)."""

    DOCUMENTATION = r"""
options:
  cluster:
    description:
      - The cluster description. Its fields follow; C(docs/cluster-description.md) in the collection is the
        complete reference, with examples.
      - The module validates the description itself before any request. Bad names, unknown roles or profiles,
        duplicate groups, negative replicas and credentials in plaintext properties fail with the offending
        field named, for example C(cluster.node_groups[2].role). Unknown keys fail as well; Ansible's argument
        validation names their path, for example C(cluster.node_groups.colour).
      - Fields of type C(raw) are checked by the module, not converted by Ansible (a string V("2") is not an
        integer). A field set to null is the same as one left out.
    type: dict
    required: true
    suboptions:
      name:
        description:
          - Required. A DNS-1035 label (lower-case letters, digits, C(-), starting with a letter) of at most 40
            characters. Prefixes every object name and is the C(app.kubernetes.io/instance) label.
          - C(name), C(-) and a group name may together be at most 52 characters.
        type: raw
      namespace:
        description: Required. Namespace of every object. It must exist; pinotops does not create namespaces.
        type: raw
      image:
        description: Required. Pinot image of every node group, for example V(apachepinot/pinot:1.4.0). Its tag
          becomes the C(app.kubernetes.io/version) label.
        type: raw
      image_pull_secrets:
        description: Names of Secrets for pulling the images (a list of strings), the pods' C(imagePullSecrets).
          Default none.
        type: raw
      helix_cluster_name:
        description: The Helix cluster name (C(controller.helix.cluster.name), C(-clusterName)), of letters, digits,
          C(_) and C(-). Default C(name).
        type: raw
      zookeeper:
        description: Required. Exactly one of C(address) or C(managed).
        type: dict
        suboptions:
          address:
            description: An existing ZooKeeper as a connect string, C(host:port[,host:port...][/chroot]).
            type: raw
          managed:
            description:
              - A ZooKeeper ensemble run by pinotops (V({}) for the defaults) - StatefulSet C(<name>-zookeeper),
                its headless and client Services and a PodDisruptionBudget. Pinot then connects to every
                member by name, C(<name>-zookeeper-<i>.<name>-zookeeper-headless:2181), so a ZooKeeper client
                fails over from a lost member without losing its session.
              - The node group name C(zookeeper) is then reserved. Switching to C(address) prunes the ensemble
                (its PVCs are kept unless C(delete_pvcs=true)).
            type: dict
            suboptions:
              replicas:
                description: Number of ZooKeeper pods, an integer of 1 or more. Default V(3).
                type: raw
              image:
                description: ZooKeeper image. Default V(zookeeper:3.9.3).
                type: raw
              storage:
                description: The PVC of each ZooKeeper pod, mounted at C(/data).
                type: dict
                suboptions:
                  size:
                    description: A Kubernetes quantity. Default V(5Gi).
                    type: raw
                  class:
                    description: StorageClass of the PVC. Default the cluster's default StorageClass.
                    type: raw
              profile:
                description: A profile of C(profiles) for the ZooKeeper pods (resources, placement...). Its
                  C(storage), C(volumes) and C(metrics) are ignored.
                type: raw
      pinot:
        description: Pinot configuration per role, C(properties) and C(jvm_opts) of each role's node groups.
        type: dict
        suboptions:
          controller:
            description: Of the controllers.
            type: dict
            suboptions: &pinot_config
              properties:
                description:
                  - A free-form mapping of Pinot property to value, rendered as C(key=value) lines (sorted) into
                    C(pinot-<role>.conf). Values may be strings, numbers, booleans (rendered V(true) or
                    V(false)) or lists (joined with C(,)), without line breaks.
                  - Properties pinotops sets itself (ports, ZooKeeper address, Helix cluster name, instance ids)
                    are refused. A credential-looking property must be exactly C(${env:NAME}) with C(NAME) a
                    C(secret_env) entry of the role.
                type: dict
              jvm_opts:
                description: A string, put into the container's C(JAVA_OPTS) after pinotops' DNS cache options and
                  before its log4j and plugins options. A credential C(-D) option must be V(-Dkey=$(NAME\)) with
                  C(NAME) a C(secret_env) entry of the role.
                type: raw
          broker:
            description: Of the brokers.
            type: dict
            suboptions: *pinot_config
          server:
            description: Of the servers.
            type: dict
            suboptions: *pinot_config
          minion:
            description: Of the minions.
            type: dict
            suboptions: *pinot_config
      secret_env:
        description:
          - Credentials from Kubernetes Secrets as environment variables of the Pinot containers
            (C(valueFrom.secretKeyRef)), never in a ConfigMap. A property refers to one as C(${env:NAME}), a
            C(jvm_opts) C(-D) option as V($(NAME\)).
        type: list
        elements: dict
        suboptions:
          name:
            description: Required. The environment variable's name.
            type: raw
          secret:
            description: Required. A Secret in the cluster's namespace. It must exist (checked before any write)
              unless C(optional).
            type: raw
          key:
            description: Required. Key in the Secret. It must exist.
            type: raw
          roles:
            description: The roles whose containers get the variable, a list of V(controller), V(broker),
              V(server) and V(minion). Default every role.
            type: raw
          optional:
            description: A boolean. Do not require the Secret (Kubernetes C(secretKeyRef.optional)). Default
              V(false).
            type: raw
      deep_store:
        description:
          - An S3 (or S3-compatible) deep store for the segments, with Pinot's S3 file system plugin (which the
            image must hold, as the official image does). Controllers, servers and minions get the plugin's
            storage factory and segment fetcher properties, and the controllers C(controller.data.dir) set to
            C(uri); see C(docs/storage.md) in the collection.
          - More than one controller in all (the sum of the controller groups' C(replicas)) needs a deep store;
            without one each controller keeps and serves only the segments that came through it.
        type: dict
        suboptions:
          uri:
            description: Required. V(s3://bucket[/path]), the controllers' C(controller.data.dir).
            type: raw
          region:
            description: Required. The bucket's AWS region, for example V(us-east-1).
            type: raw
          endpoint:
            description: The S3 API's URL, V(http(s\)://host[:port]), for an S3-compatible server. Default AWS's
              endpoint of the region. Pinot always sends path-style requests.
            type: raw
          credentials_secret:
            description:
              - A Secret in the cluster's namespace holding the access key pair, given to the controller, server
                and minion containers as C(AWS_ACCESS_KEY_ID) and C(AWS_SECRET_ACCESS_KEY) (C(secretKeyRef)),
                which the AWS SDK reads. Never in a ConfigMap, a diff or the module's result.
              - Without it the AWS SDK's default credentials chain applies (IAM roles for service accounts, an
                instance profile).
            type: dict
            suboptions:
              name:
                description: Required. The Secret's name.
                type: raw
              access_key_key:
                description: The key of the access key id in the Secret. Default V(AWS_ACCESS_KEY_ID).
                type: raw
              secret_key_key:
                description: The key of the secret access key in the Secret. Default V(AWS_SECRET_ACCESS_KEY).
                type: raw
      profiles:
        description:
          - Named, reusable Kubernetes settings, a mapping of profile name to profile. A node group refers to one
            with C(profile) and changes it with C(overrides).
          - A profile may hold C(resources) (container resources), C(storage.size) (a PVC per pod; without it the
            data directory is an C(emptyDir)), C(storage.class), C(storage.access_modes), C(node_selector),
            C(tolerations), C(affinity), C(topology_spread) (pod C(topologySpreadConstraints)), C(pod_labels),
            C(pod_annotations), C(env) (plain environment variables), C(service.type), C(service.annotations) and
            C(service.labels) (of the role's client Service; all groups of a role must agree),
            C(probes.startup), C(probes.readiness) and C(probes.liveness) (merged over pinotops' probes),
            C(termination_grace_period_seconds), C(security_context), C(pod_security_context),
            C(service_account), C(priority_class_name), C(image_pull_policy) and C(pod_management_policy)
            (V(OrderedReady), the default, or V(Parallel), with which a StatefulSet's pods are started and recreated
            together, as a zone-at-a-time upgrade of server groups needs to bring a zone's pods back at once; fixed
            when the StatefulSet is created) and C(volumes) (Secrets and ConfigMaps mounted as files - key files,
            keystores, extra configs - a list of C(name), C(secret) or C(config_map), C(mount_path), C(items)
            (C(key) and C(path)), C(read_only) (default V(true)) and C(optional); not at or around the role's config
            and data directories).
          - A profile's C(metrics) (V({}) for the defaults) makes its Pinot pods serve Prometheus metrics. The
            Prometheus JMX exporter's Java agent of the image starts with the JVM (C(-javaagent) in C(JAVA_OPTS)),
            on C(metrics.port) (default V(8008); not a port of the role), with the exporter config
            C(metrics.config) (default the official image's
            C(/opt/pinot/etc/jmx_prometheus_javaagent/configs/<role>.yml)) and the agent jar C(metrics.jar)
            (default C(/opt/pinot/etc/jmx_prometheus_javaagent/jmx_prometheus_javaagent.jar)), both paths in the
            image. The port is declared on the container and the group's headless Service as C(metrics). The pods
            get Prometheus' scrape annotations (C(prometheus.io/scrape), C(prometheus.io/port),
            C(prometheus.io/path)); C(pod_annotations) that give them other values are refused. With
            C(metrics.service_monitor) V(true) a Prometheus Operator ServiceMonitor per node group selects its headless
            Service instead (no scrape annotations), labelled with C(metrics.service_monitor_labels) as the
            Prometheus' C(serviceMonitorSelector) wants; the cluster must serve the ServiceMonitor CRD.
            C(metrics.enabled) V(false) turns it off (in a group's C(overrides)). A JMX exporter C(-javaagent) in
            C(jvm_opts) is refused. The managed ZooKeeper ignores C(metrics). See C(docs/metrics.md).
          - Kubernetes values keep Kubernetes' camelCase spelling; the apiserver's dry run checks them before any
            write.
        type: dict
      node_groups:
        description: Required. The StatefulSets of the cluster, at least one of them a controller group.
        type: list
        elements: dict
        suboptions:
          name:
            description: Required. A unique DNS-1123 label. Names the group's StatefulSet and PodDisruptionBudget
              C(<cluster>-<group>), ConfigMap C(<cluster>-<group>-config-<hash>) and headless Service
              C(<cluster>-<group>-headless).
            type: raw
          role:
            description: Required. V(controller), V(broker), V(server) or V(minion).
            type: raw
          replicas:
            description: The StatefulSet's replicas, an integer of 0 or more. Left out, pinotops never writes
              C(spec.replicas) (for an HPA or another tool).
            type: raw
          zone:
            description: A Kubernetes zone (C(topology.kubernetes.io/zone) node label value) for the group's
              pods. Not together with C(zones).
            type: raw
          zones:
            description: A list of zones; the pods are spread over them. Every zone must be the label value of
              some node (checked before any write). Default no zone constraint.
            type: raw
          image:
            description: Image of this group. Default C(image).
            type: raw
          profile:
            description: Name of a profile of C(profiles).
            type: raw
          overrides:
            description: Profile fields merged over the group's profile (mappings key by key; lists and scalars
              replace) - C(resources), C(storage.size), C(storage.class), C(storage.access_modes),
              C(node_selector), C(tolerations), C(affinity), C(topology_spread), C(pod_labels),
              C(pod_annotations), C(env), C(service.type), C(service.annotations), C(service.labels),
              C(probes.startup), C(probes.readiness), C(probes.liveness), C(termination_grace_period_seconds),
              C(security_context), C(pod_security_context), C(service_account), C(priority_class_name),
              C(image_pull_policy), C(pod_management_policy), C(volumes), C(metrics.enabled), C(metrics.port),
              C(metrics.config), C(metrics.jar), C(metrics.service_monitor), C(metrics.service_monitor_labels) (see
              C(profiles)).
            type: dict
          pinot:
            description: C(properties) and C(jvm_opts) merged over those of the group's role in C(pinot) (its
              properties win key by key, its C(jvm_opts) replaces the role's). A change rolls only this group.
            type: dict
            suboptions: *pinot_config
          tags:
            description: Pinot instance tags, a list of strings. Broker tags end in C(_BROKER) and are rendered as
              C(pinot.broker.instance.tags); server tags end in C(_OFFLINE) or C(_REALTIME) and are recorded as
              an annotation, which the C(pinot_cluster) role applies. Controllers have none.
            type: raw
          pool:
            description:
              - Server groups only. The Pinot instance pool of the group's servers, an integer of 0 or more.
                Default for a group in one zone the pool of its zone (see C(zone_pools)); a group in no zone or
                in several gets no pool unless it names one.
              - The C(pinot_cluster) role writes it into Pinot for every tag of each of the group's instances
                (C(pinot_instance) O(pinotops.k8s.pinot_instance#module:pool)), and records it as the annotation
                C(pinotops.io/pinot-instance-pool). Zone-aware tables place one replica group per pool.
            type: raw
      deployment_order:
        description: The order in which roles are applied (and, with C(wait=true), waited for), a list of roles
          without duplicates that names every role with node groups. Default V([controller, broker, server,
          minion]).
        type: raw
      zone_pools:
        description:
          - The Pinot instance pool of each zone, a mapping of zone to an integer of 0 or more, for the zones a
            server group is in alone. A zone left out takes the pool a server group of the zone names, else the
            lowest pool no other zone holds, zones in name order (V(zone-a) 0, V(zone-b) 1, V(zone-c) 2).
          - Pin the pools here before adding a zone whose name sorts before a zone already in use, or its
            servers would take that zone's pool. Two zones in one pool, or a zone in two pools, is refused.
        type: dict
"""
