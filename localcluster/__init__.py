"""The checkout's local servers: the Kubernetes control plane (`cluster`) and the ports its servers use."""
