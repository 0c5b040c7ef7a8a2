# Entry points. `make up` deploys the local stack; `make test` runs every test. Both bootstrap first.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

# The local stack keeps its state in a file backend under the work tree. Its passphrase only protects
# throwaway localnet keys, so it is not a secret; testnet and mainnet take theirs from the environment.
LOCAL_ENV := PULUMI_BACKEND_URL=file://$(CURDIR)/.state/pulumi PULUMI_CONFIG_PASSPHRASE=tonsurance-local
# The local stack's PostgreSQL: data directory as in Pulumi.local.yaml (tonsurance:database); its port is
# chosen free once per checkout and recorded in .state/ports.json (the program reads it from the server).
LOCAL_POSTGRES := scripts/postgres.sh start .state/postgres "$$(python3 -m localcluster.ports get postgres)" tonsurance
# The local stack's Kubernetes cluster (.state/cluster/local; its kubeconfig is tonsurance:kubeconfig):
# started, or restarted where a component died, before every run that talks to it.
LOCAL_CLUSTER := scripts/cluster start

.PHONY: up down preview destroy test bootstrap lock kubectl

bootstrap:
	scripts/bootstrap

up: bootstrap
	$(LOCAL_POSTGRES)
	$(LOCAL_CLUSTER)
	. scripts/env.sh && mkdir -p .state/pulumi && export $(LOCAL_ENV) && \
	pulumi stack select local --create --secrets-provider passphrase && \
	pulumi up --stack local --yes --skip-preview && \
	.venv/bin/python -m ops record --stack local

preview: bootstrap
	$(LOCAL_POSTGRES)
	$(LOCAL_CLUSTER)
	. scripts/env.sh && export $(LOCAL_ENV) && pulumi preview --stack local

destroy: bootstrap
	$(LOCAL_POSTGRES)
	$(LOCAL_CLUSTER)
	. scripts/env.sh && export $(LOCAL_ENV) && pulumi destroy --stack local --yes

# Stop the local stack's servers (cluster and PostgreSQL); their data stays for the next `make up`.
down:
	scripts/cluster stop
	scripts/postgres.sh stop .state/postgres

# The built kubectl against the local cluster: `make kubectl` lists every pod, `make kubectl ARGS="get ns"`.
ARGS ?= get pods -A
kubectl:
	.tools/bin/kubectl --kubeconfig "$$(scripts/cluster kubeconfig)" $(ARGS)

test: bootstrap
	. scripts/env.sh && .venv/bin/python -m pytest

# Re-pin every Python dependency, with its file's hash, after changing requirements.txt.
lock:
	.venv/bin/python -m pip install --quiet -r requirements.txt
	.venv/bin/python scripts/lock_python.py > constraints.txt.new && mv constraints.txt.new constraints.txt

# Public stacks with the policy pack (policy/, docs/policy.md): mandatory on mainnet, advisory on testnet.
# The backend, passphrase or KMS credentials come from your environment. Each successful up writes a
# deployment record (docs/deployment-records.md).
POLICY_PACK := --policy-pack policy
ADVISORY := --policy-pack-config policy/advisory.json

.PHONY: preview-testnet up-testnet preview-mainnet up-mainnet

preview-testnet: bootstrap
	. scripts/env.sh && pulumi preview --stack testnet $(POLICY_PACK) $(ADVISORY)

up-testnet: bootstrap
	. scripts/env.sh && pulumi up --stack testnet $(POLICY_PACK) $(ADVISORY) && python -m ops record --stack testnet

preview-mainnet: bootstrap
	. scripts/env.sh && pulumi preview --stack mainnet $(POLICY_PACK)

# Mainnet: the checklist first, then the update, its record and the verification (README, "Mainnet, step by step").
up-mainnet: bootstrap
	. scripts/env.sh && python -m ops preflight --stack mainnet && \
	pulumi up --stack mainnet $(POLICY_PACK) && \
	python -m ops record --stack mainnet && python -m ops verify --stack mainnet
