"""Stand-ins for the official images that docker-compose.yml pins, built from Debian packages.

No image registry is reachable on the machines that run these tests, so each pinned image that
is not already present (and cannot be pulled) is replaced by a local image tagged with exactly
the pinned name. A stand-in reproduces what the Compose file relies on in the official image:
the entrypoint path, default command, working directory, user and busybox `wget`. Its program is
Debian bookworm's build (Prometheus 2.42, not the pinned 3.x), which is why the Prometheus files
stay in the subset both accept.
"""

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

DEBIAN_PACKAGES = ("ca-certificates,python3,python3-venv,python3-pip,prometheus,"
                   "prometheus-pushgateway,prometheus-alertmanager,prometheus-blackbox-exporter,"
                   "busybox")
BASE_IMAGE = "churn-monitoring-standin-base:bookworm"
# Inside the root file system: the official images' program paths and busybox wget.
ROOTFS_HOOK = ("ln -s /usr/bin/prometheus-pushgateway \"$1/usr/bin/pushgateway\" && "
               "ln -s /usr/bin/prometheus-alertmanager \"$1/usr/bin/alertmanager\" && "
               "ln -s /usr/bin/prometheus-blackbox-exporter \"$1/usr/bin/blackbox_exporter\" && "
               "ln -s /usr/bin/busybox \"$1/usr/local/bin/wget\" && "
               "ln -s /usr/bin/python3 \"$1/usr/local/bin/python\"")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def _prom_image(program: str, data_dir: str, command: list[str]) -> str:
    """What the prom/* images share: /bin/<program>, a data folder owned by nobody, user nobody."""
    quoted = ", ".join(f'"{part}"' for part in command)
    return (f"RUN mkdir -p {data_dir} && chown nobody:nogroup {data_dir}\n"
            f"WORKDIR {data_dir}\nUSER nobody\n"
            f'ENTRYPOINT ["/bin/{program}"]\nCMD [{quoted}]\n')


# Repository of the official image -> the Dockerfile lines after FROM <base>.
STANDINS = {
    # The host's CA bundle, so that pip inside `docker build` trusts what the host trusts.
    "python": ("COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n"
               "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt\n"
               'CMD ["python3"]\n'),
    "prom/prometheus": _prom_image("prometheus", "/prometheus", [
        "--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]),
    "prom/pushgateway": _prom_image("pushgateway", "/pushgateway", []),
    "prom/alertmanager": _prom_image("alertmanager", "/alertmanager", [
        "--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]),
    # No data folder: the official image runs its program as a user of its own from /.
    "prom/blackbox-exporter": ('USER nobody\nENTRYPOINT ["/bin/blackbox_exporter"]\n'
                               'CMD ["--config.file=/etc/blackbox_exporter/config.yml"]\n'),
}


def docker(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                            check=False)
    if check and result.returncode != 0:
        pytest.fail(f"docker {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def repository(image: str) -> str:
    """prom/prometheus:v3.5.0 -> prom/prometheus; docker.io/library/python:3.11 -> python."""
    name = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return name.removeprefix("docker.io/").removeprefix("library/")


@dataclass
class StandIns:
    """Builds the missing images in `workdir`; `created` lists what to remove afterwards."""

    workdir: Path
    created: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def ensure(self, images: list[str]) -> None:
        missing = [image for image in images if not self.present(image)]
        if unknown := [image for image in missing if repository(image) not in STANDINS]:
            pytest.fail(f"no stand-in for {unknown}: add one to tests/containers/standins.py")
        if missing:
            self.build_base()
        for image in missing:
            started = time.monotonic()
            context = self.workdir / repository(image).replace("/", "-")
            context.mkdir(parents=True)
            shutil.copy(HOST_CA_BUNDLE, context / "ca-certificates.crt")
            (context / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\n{STANDINS[repository(image)]}")
            docker("build", "--quiet", "--tag", image, str(context))
            self.created.append(image)
            self.timings[image] = time.monotonic() - started

    def present(self, image: str) -> bool:
        if docker("image", "inspect", image, check=False).returncode == 0:
            return True
        # A registry may be reachable where these tests run by hand: the real image is better.
        return docker("pull", "--quiet", image, check=False, timeout=60).returncode == 0

    def build_base(self) -> None:
        if docker("image", "inspect", BASE_IMAGE, check=False).returncode == 0:
            return
        started = time.monotonic()
        rootfs = self.workdir / "rootfs.tar"
        result = subprocess.run(
            ["mmdebstrap", "--quiet", "--variant=apt", f"--include={DEBIAN_PACKAGES}",
             f"--customize-hook={ROOTFS_HOOK}", "bookworm", str(rootfs)],
            capture_output=True, text=True, timeout=900, check=False)
        if result.returncode != 0:
            pytest.fail(f"mmdebstrap failed:\n{result.stderr[-3000:]}")
        docker("import", str(rootfs), BASE_IMAGE)
        rootfs.unlink()
        self.created.append(BASE_IMAGE)
        self.timings["debian root file system"] = time.monotonic() - started

    def remove(self) -> None:
        for image in reversed(self.created):
            docker("image", "rm", "--force", image, check=False)
