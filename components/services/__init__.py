"""The backend services sub-system: the five workloads of the catalog and what they need in the cluster.

- catalog.py: the table of the workloads (images, ports, secrets, resources) and the service accounts
  other components name (the secrets reader the stack's AWS role trusts);
- backend_services.py: the `BackendServices` component, built from the catalog's rows;
- workload.py: one workload (Deployment or Argo Rollout, Service, NetworkPolicy, ingress);
- rollout_analysis.py: the canary's Prometheus analyses; secrets.py: ExternalSecrets and their store;
- redis.py: the in-cluster Redis; pod_security.py: the hardened pod and container settings they share.
"""
