"""The workloads the stand-ins answer for, by the service catalog's names (components/services/catalog.py;
tests/standins/test_targets.py checks that the two agree), and what each kind of stand-in does. Kept here
rather than imported, so the local servers do not depend on the program's components."""

API_SERVICES = ("ocaml-backend", "api-v2", "websocket-v2")  # serve HTTP requests (and a synthetic load)
DATABASE_SERVICES = ("ocaml-backend", "api-v2")  # read DATABASE_URL: they report a connection pool
KEEPERS = ("pricing-keeper", "bridge-health-keeper")  # sign with a wallet of their own
SERVICES = API_SERVICES + KEEPERS
CONTRACT_ADDRESSES = "contract-addresses"  # the ConfigMap the pods read the contracts' addresses from
