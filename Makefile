# Entry points. `make up` deploys the local stack; `make test` runs every test. Both bootstrap first.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

# The local stack keeps its state in a file backend under the work tree. Its passphrase only protects
# throwaway localnet keys, so it is not a secret; testnet and mainnet take theirs from the environment.
# metadata=skip: the file backend then writes no `.attrs` sidecar, which it writes in place (a run killed at
# that moment leaves it empty and every later command fails "failed to load checkpoint: EOF").
LOCAL_ENV := PULUMI_BACKEND_URL='file://$(CURDIR)/.state/pulumi?metadata=skip' PULUMI_CONFIG_PASSPHRASE=tonsurance-local
# The local stack's PostgreSQL: data directory as in Pulumi.local.yaml (tonsurance:database); its port is
# chosen free once per checkout and recorded in .state/ports.json (the program reads it from the server).
LOCAL_POSTGRES := scripts/postgres.sh start .state/postgres "$$(python3 -m localcluster.ports get postgres)" tonsurance
# The local stack's Kubernetes cluster (.state/cluster/local; its kubeconfig is tonsurance:kubeconfig):
# started, or restarted where a component died, before every run that talks to it.
LOCAL_CLUSTER := scripts/cluster start
# Prometheus, Alertmanager, the alert sink, the monitoring sync, Redis and the exporters (localcluster/servers.py):
# started, or restarted where one died, before `pulumi up`, so the sync follows the objects it changes.
LOCAL_SERVERS := scripts/servers start

.PHONY: up down preview destroy test bootstrap lock kubectl mutate drill

bootstrap:
	scripts/bootstrap

up: bootstrap
	$(LOCAL_POSTGRES)
	$(LOCAL_CLUSTER)
	$(LOCAL_SERVERS)
	. scripts/env.sh && mkdir -p .state/pulumi && export $(LOCAL_ENV) && \
	pulumi stack select local --create --secrets-provider passphrase && \
	.venv/bin/python -m ops unlock --stack local && \
	( status=0; pulumi up --stack local --yes --skip-preview || status=$$?; \
	  .venv/bin/python -m ops record --stack local; exit $$status ) && \
	.venv/bin/python -m localcluster.standins wait --stack local

preview: bootstrap
	$(LOCAL_POSTGRES)
	$(LOCAL_CLUSTER)
	. scripts/env.sh && export $(LOCAL_ENV) && pulumi preview --stack local

destroy: bootstrap
	$(LOCAL_POSTGRES)
	$(LOCAL_CLUSTER)
	. scripts/env.sh && export $(LOCAL_ENV) && pulumi destroy --stack local --yes

# Stop the local stack's servers (monitoring, cluster and PostgreSQL); their data stays for the next `make up`.
down:
	scripts/servers stop
	scripts/cluster stop
	scripts/postgres.sh stop .state/postgres

# The canary drill against the local stack (after `make up`): good, bad and quiet releases of api-v2 through the
# real gates, with a timeline and figures (docs/drills.md). It leaves api-v2 on a new version.
drill: bootstrap
	. scripts/env.sh && export $(LOCAL_ENV) && .venv/bin/python -m localcluster.drill --stack local

# The built kubectl against the local cluster: `make kubectl` lists every pod, `make kubectl ARGS="get ns"`.
ARGS ?= get pods -A
kubectl:
	.tools/bin/kubectl --kubeconfig "$$(scripts/cluster kubeconfig)" $(ARGS)

# The test files run on TEST_WORKERS processes (pytest-xdist), a file per worker at a time, the slowest first
# (tests/conftest.py). Three on 2 cores, because much of the suite waits on blocks, servers and the engine; a fourth
# gained nothing (docs/toolchain.md, "Test suite time").
# `make test TEST_WORKERS=0` runs them in this process, one after another.
TEST_WORKERS ?= 3
test: bootstrap
	. scripts/env.sh && .venv/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# Mutation testing of the safety-critical modules, each against its own tests (scripts/mutate.py, docs/testing.md);
# minutes, not part of `make test`. Some targets: make mutate TARGETS="wallet migrations".
mutate: bootstrap
	. scripts/env.sh && .venv/bin/python scripts/mutate.py $(TARGETS)

# Re-pin every Python dependency, with its file's hash, after changing requirements.txt.
lock:
	.venv/bin/python -m pip install --quiet -r requirements.txt
	.venv/bin/python scripts/lock_python.py > constraints.txt.new && mv constraints.txt.new constraints.txt

# Public stacks with the policy pack (policy/, docs/policy.md): mandatory on mainnet, advisory on testnet.
# The backend, passphrase or KMS credentials come from your environment. Each up, failed ones too, writes a
# deployment record beside the stack's state (docs/deployment-records.md).
POLICY_PACK := --policy-pack policy
ADVISORY := --policy-pack-config policy/advisory.json

.PHONY: preview-testnet up-testnet preview-mainnet up-mainnet

preview-testnet: bootstrap
	. scripts/env.sh && pulumi preview --stack testnet $(POLICY_PACK) $(ADVISORY)

up-testnet: bootstrap
	. scripts/env.sh && ( status=0; pulumi up --stack testnet $(POLICY_PACK) $(ADVISORY) || status=$$?; \
	  python -m ops record --stack testnet; exit $$status )

preview-mainnet: bootstrap
	. scripts/env.sh && pulumi preview --stack mainnet $(POLICY_PACK)

# Mainnet: the checklist first, then the update, its record and the verification (README, "Mainnet, step by step").
up-mainnet: bootstrap
	. scripts/env.sh && python -m ops preflight --stack mainnet && \
	( status=0; pulumi up --stack mainnet $(POLICY_PACK) || status=$$?; \
	  python -m ops record --stack mainnet; exit $$status ) && python -m ops verify --stack mainnet
