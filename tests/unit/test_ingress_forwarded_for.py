"""Finding 7 of issue 27: a client cannot choose the address nginx rate-limits and logs by writing X-Forwarded-For.

The controller config the program renders (components/platform_charts.py) is turned into the directives the
ingress-nginx template makes of it (its http block: the realip module is on when use-forwarded-headers,
use-proxy-protocol or enable-real-ip is; `real_ip_header <forwarded-for-header>`, `real_ip_recursive on`, one
`set_real_ip_from` per entry of proxy-real-ip-cidr, whose default is 0.0.0.0/0), and a real nginx on 127.0.0.1
serves them with the per-client rate limit the Ingress annotations ask for (keyed by $binary_remote_addr).
"""
from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from components.platform_charts import CHARTS, INGRESS_NGINX, PlatformChartsArgs, chart_values, ingress_controller_config
from config.reader import Reader
from config.services import parse_services
from tests.support import PUBLIC_SERVICES, parse, raw_config

# ingress-nginx's defaults for the keys that decide whose X-Forwarded-For is believed.
DEFAULTS = {"use-forwarded-headers": "false", "use-proxy-protocol": "false", "enable-real-ip": "false",
            "forwarded-for-header": "X-Forwarded-For", "proxy-real-ip-cidr": "0.0.0.0/0"}
SPOOFED = "203.0.113.7"
LOAD_BALANCER = "127.0.0.2"  # a second loopback address plays the load balancer


def realip_directives(config: dict[str, str]) -> str:
    cfg = {**DEFAULTS, **config}
    if "true" not in (cfg["use-forwarded-headers"], cfg["use-proxy-protocol"], cfg["enable-real-ip"]):
        return ""
    header = "proxy_protocol" if cfg["use-proxy-protocol"] == "true" else cfg["forwarded-for-header"]
    trusted = "".join(f"set_real_ip_from {cidr.strip()};\n" for cidr in cfg["proxy-real-ip-cidr"].split(","))
    return f"real_ip_header {header};\nreal_ip_recursive on;\n{trusted}"


@pytest.fixture
def nginx(tmp_path):
    """Start nginx with a controller config; yields a function (config) -> port."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        pytest.fail("nginx not found: run scripts/bootstrap (it installs Debian's nginx-light)", pytrace=False)
    processes = []

    def start(config: dict[str, str]) -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        prefix = tmp_path / f"nginx-{port}"
        (prefix / "www").mkdir(parents=True)
        (prefix / "www" / "index.html").write_text("ok")  # a static page: limit_req runs before it is served
        (prefix / "nginx.conf").write_text(f"""
daemon off; master_process off; pid {prefix}/nginx.pid; error_log {prefix}/error.log;
events {{}}
http {{
  access_log off; client_body_temp_path {prefix}; proxy_temp_path {prefix}; fastcgi_temp_path {prefix};
  uwsgi_temp_path {prefix}; scgi_temp_path {prefix};
  {realip_directives(config)}
  limit_req_zone $binary_remote_addr zone=per_client:1m rate=1r/m;
  server {{
    listen 127.0.0.1:{port};
    location / {{ limit_req zone=per_client; limit_req_status 429; add_header X-Client $remote_addr always;
                 root {prefix}/www; }}
  }}
}}""")
        process = subprocess.Popen([binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        processes.append(process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return port
            except OSError:
                assert process.poll() is None, process.stderr.read().decode()
                time.sleep(0.05)
        raise AssertionError("nginx did not start")

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


def get(port: int, forwarded_for: str, source: str = "127.0.0.1") -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    connection.request("GET", "/", headers={"X-Forwarded-For": forwarded_for})
    response = connection.getresponse()
    response.read()
    answer = response.status, response.getheader("X-Client")
    connection.close()
    return answer


def rendered_controller_config(**services) -> dict[str, str]:
    cfg = parse(raw_config("mainnet", services=json.dumps({**PUBLIC_SERVICES, **services})))
    [chart] = [c for c in CHARTS if c.key == INGRESS_NGINX]
    args = PlatformChartsArgs(provider=None, install={}, load_balancer_cidrs=cfg.services.load_balancer_cidrs)
    return chart_values(chart, args)["controller"]["config"]


def test_the_former_config_trusted_anyone_so_the_test_can_tell(nginx):
    port = nginx({"use-forwarded-headers": "true"})  # the finding: every peer may set the client's address
    assert get(port, SPOOFED) == (200, SPOOFED)
    assert get(port, "198.51.100.1")[0] == 200  # a new "client" each time: the rate limit never bites


def test_a_spoofed_forwarded_for_is_not_trusted_by_default(nginx):
    config = rendered_controller_config()
    assert config["use-forwarded-headers"] == "false" and "proxy-real-ip-cidr" not in config
    port = nginx(config)
    assert get(port, SPOOFED) == (200, "127.0.0.1")  # the TCP peer, not the header
    assert get(port, "198.51.100.1")[0] == 429  # another header value is still the same client: limited


def test_only_the_load_balancer_is_believed_and_only_for_what_it_appended(nginx):
    config = rendered_controller_config(loadBalancerCidrs=[f"{LOAD_BALANCER}/32"])
    assert config["proxy-real-ip-cidr"] == f"{LOAD_BALANCER}/32" and config["use-forwarded-headers"] == "true"
    port = nginx(config)
    # Straight to nginx, around the load balancer: the header is ignored.
    assert get(port, SPOOFED) == (200, "127.0.0.1")
    # Through the load balancer, which appends the address it saw: the client's own entry is skipped.
    assert get(port, f"{SPOOFED}, 198.51.100.9", source=LOAD_BALANCER) == (200, "198.51.100.9")


def test_load_balancer_ranges_are_checked():
    def read(**services):
        return parse_services(Reader(raw_config("mainnet", services=json.dumps({**PUBLIC_SERVICES, **services})), set()),
                              "mainnet")

    for bad in ("0.0.0.0/0", "10.0.0.1/8", "not-a-range"):
        with pytest.raises(Exception, match=r"services.loadBalancerCidrs\[0\]: must be the load balancer's"):
            read(loadBalancerCidrs=[bad])
    assert read(loadBalancerCidrs=["10.0.0.0/16"]).load_balancer_cidrs == ("10.0.0.0/16",)
    assert ingress_controller_config(())["use-forwarded-headers"] == "false"
