"""The cert-manager ClusterIssuer that the ingresses name (`services.tlsIssuer`): an ACME account (Let's Encrypt
unless `services.acmeServer` says otherwise) with `services.acmeEmail`, solving HTTP-01 challenges through the
ingress-nginx class the ingresses use. The program creates it where it installs cert-manager (public stacks); an
operator who brings their own cert-manager brings the issuer too.

    TlsIssuer("tls-issuer", TlsIssuerArgs.from_services(cfg.services), pulumi.ResourceOptions(provider=...))
"""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.services.catalog import INGRESS_CLASS
from config.types import ServicesConfig


@dataclass(frozen=True)
class TlsIssuerArgs:
    name: str  # the ClusterIssuer's name: what the ingresses' cert-manager.io/cluster-issuer says
    email: str
    server: str  # the ACME directory URL

    @classmethod
    def from_services(cls, services: ServicesConfig) -> "TlsIssuerArgs":
        if services.acme_email is None:
            raise ValueError("services.acmeEmail is required to create the ClusterIssuer")
        return cls(services.tls_issuer, services.acme_email, services.acme_server)


def issuer_spec(args: TlsIssuerArgs) -> dict:
    return {"acme": {
        "server": args.server,
        "email": args.email,
        # cert-manager creates and keeps the account key in this Secret (in its own namespace)
        "privateKeySecretRef": {"name": f"{args.name}-account-key"},
        "solvers": [{"http01": {"ingress": {"ingressClassName": INGRESS_CLASS}}}],
    }}


class TlsIssuer(pulumi.ComponentResource):
    def __init__(self, name: str, args: TlsIssuerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("tonsurance:platform:TlsIssuer", name, None, opts)
        self.issuer = k8s.apiextensions.CustomResource(
            f"{name}-cluster-issuer", api_version="cert-manager.io/v1", kind="ClusterIssuer",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.name, labels={"app.kubernetes.io/part-of": "tonsurance"}),
            spec=issuer_spec(args), opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"name": args.name})
