"""Reading the deployment files the way their engines do, for tests that run without them.

`kustomize()` renders a kustomization like `kubectl kustomize`, for the few features
deploy/k8s uses (resources, namespace, images, strategic-merge patches of mappings); anything else
in a kustomization.yaml stops it, so a new feature cannot be skipped silently. Where kubectl
exists, the tests compare both renderings. `selects()` is a label selector as Kubernetes
evaluates it, `required_variables()` the PORTAL_* variables a Settings class cannot start without,
`LITERAL_SECRETS` what a key or password looks like when it slipped into a file.
"""

import copy
import re
import shutil
import subprocess
from pathlib import Path

import yaml
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUSTOMIZATIONS = {"base": K8S / "base", "production": K8S / "overlays" / "production"}

_FEATURES = {"apiVersion", "kind", "namespace", "resources", "images", "patches"}
# kinds the namespace transformer leaves alone (cluster-scoped)
_CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass"}


def load_all(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kustomize(folder: Path) -> list[dict]:
    spec = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unknown = set(spec) - _FEATURES
    if unknown:
        raise NotImplementedError(f"{folder}: kustomization fields this reader does not follow: {sorted(unknown)}")
    objects: list[dict] = []
    for entry in spec.get("resources", []):
        path = (folder / entry).resolve()
        objects += kustomize(path) if path.is_dir() else load_all(path)
    for patch in spec.get("patches", []):
        if set(patch) != {"path"}:
            raise NotImplementedError(f"{folder}: only `- path:` patches are followed, not {patch}")
        for change in load_all(folder / patch["path"]):
            target = find(objects, change["kind"], change["metadata"]["name"])
            merge(target, change)
    if "namespace" in spec:
        for obj in objects:
            if obj["kind"] not in _CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = spec["namespace"]
    for image in spec.get("images", []):
        for container in containers(objects):
            name, _, _ = container["image"].partition(":")
            if name == image["name"]:
                container["image"] = f"{image.get('newName', name)}:{image['newTag']}"
    return objects


def kubectl_kustomize(folder: Path) -> list[dict] | None:
    """`kubectl kustomize`'s rendering, or None where kubectl is not installed."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    done = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def merge(target: dict, change: dict) -> None:
    """A strategic-merge patch of mappings: keys are merged, anything else replaced."""
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        elif isinstance(value, list):
            raise NotImplementedError(f"a patch that changes the list {key!r}: merge keys are not followed here")
        else:
            target[key] = copy.deepcopy(value)


def by_identity(objects: list[dict]) -> dict[tuple[str, str, str], dict]:
    found = {}
    for obj in objects:
        key = (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        assert key not in found, f"{key} twice"
        found[key] = obj
    return found


def find(objects: list[dict], kind: str, name: str) -> dict:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def pod_spec(obj: dict) -> dict | None:
    if obj["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
        return obj["spec"]["template"]["spec"]
    return None


def containers(objects: list[dict]) -> list[dict]:
    found = []
    for obj in objects:
        spec = pod_spec(obj)
        if spec:
            found += spec.get("initContainers", []) + spec["containers"]
    return found


def env_names(container: dict) -> list[str]:
    return [variable["name"] for variable in container.get("env", [])]


def env_value(container: dict, name: str) -> str | None:
    for variable in container.get("env", []):
        if variable["name"] == name:
            return variable.get("value")
    return None


def selects(selector: dict, labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions); {} selects everything."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def required_variables(settings: type[BaseSettings]) -> set[str]:
    """PORTAL_* names of the fields without a default: the service refuses to start without them."""
    prefix = settings.model_config.get("env_prefix", "")
    return {(prefix + name).upper() for name, field in settings.model_fields.items() if field.is_required()}


def known_variables(settings: type[BaseSettings]) -> set[str]:
    prefix = settings.model_config.get("env_prefix", "")
    return {(prefix + name).upper() for name in settings.model_fields}


# what a secret looks like, to find one that slipped into a deployment file
SECRET_NAMES = re.compile(r"PASSWORD|SECRET|PRIVATE_KEY|TOKEN|CREDS")
LITERAL_SECRETS = [
    re.compile(r"[A-Za-z0-9+/]{43}="),  # a base64 key or secret of 32 bytes
    re.compile(r"\bpw[0-9a-f]{16,}"),  # a password as deploy/nats_local.py makes them
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"://[^/\s:@]+:(?!\$\()(?!<)[^@\s]+@"),  # a password in a URL that is not $(VAR) or <placeholder>
]


def conf_variables(path: Path) -> set[str]:
    """The $NATS_… variables a nats-server config reads from its environment."""
    text = "\n".join(line.split("#")[0] for line in path.read_text().splitlines())
    return set(re.findall(r"\$(NATS_\w+)", text))
