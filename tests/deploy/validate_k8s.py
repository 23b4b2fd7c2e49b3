"""Offline schema check of Kubernetes manifests, with the API types of Debian's
python3-kubernetes (the generated client of the Kubernetes 1.22 API: apps/v1, batch/v1,
policy/v1, v1): every field must exist in its type (an unknown or misspelt field is an error,
as `kubectl apply --validate=strict` would say), have that type's kind of value, and every
required field must be there (the client's own checks). Quantities (resources) must parse.
Then the rules callbackd's manifests keep (deploy/k8s/*.yaml, README "Deploying") are checked:
non-root, read-only root, no capability, seccomp RuntimeDefault, the probes.

usage: /usr/bin/python3 tests/deploy/validate_k8s.py FILE.yaml...
Prints one line per problem and exits 1 if there is one; prints what it checked otherwise."""

import re
import sys

import yaml
from kubernetes.client import models

KINDS = {  # (apiVersion, kind) -> the client's type: only what the manifests may use
    ("apps/v1", "Deployment"): "V1Deployment",
    ("batch/v1", "Job"): "V1Job",
    ("policy/v1", "PodDisruptionBudget"): "V1PodDisruptionBudget",
    ("v1", "Service"): "V1Service",
    ("v1", "Secret"): "V1Secret",
    ("v1", "ConfigMap"): "V1ConfigMap",
}
# Kubernetes' quantity grammar (resource.Quantity): a number with an optional suffix.
QUANTITY = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)"
                      r"(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$")
PRIMITIVE = {"str": str, "int": int, "bool": bool, "float": (int, float)}


class Problems(list):
    def add(self, where, what):
        self.append(f"{where}: {what}")


def check(value, typename, where, problems):
    """Checks `value` against the client's type `typename`; returns the model built (so that
    the client's own required-field checks run) or the value."""
    if value is None:
        return None
    if typename in PRIMITIVE:
        ok = isinstance(value, PRIMITIVE[typename]) and not (
            typename in ("int", "float") and isinstance(value, bool))
        if not ok:
            problems.add(where, f"{value!r} is not a {typename}")
        return value
    if typename in ("object", "datetime", "date"):  # int-or-string, free-form, times
        return value
    m = re.fullmatch(r"list\[(.+)\]", typename)
    if m:
        if not isinstance(value, list):
            problems.add(where, f"a list is wanted, not {value!r}")
            return value
        return [check(v, m.group(1), f"{where}[{i}]", problems) for i, v in enumerate(value)]
    m = re.fullmatch(r"dict\(str, (.+)\)", typename)
    if m:
        if not isinstance(value, dict):
            problems.add(where, f"a map is wanted, not {value!r}")
            return value
        return {k: check(v, m.group(1), f"{where}.{k}", problems) for k, v in value.items()}
    cls = getattr(models, typename)
    if not isinstance(value, dict):
        problems.add(where, f"an object ({typename}) is wanted, not {value!r}")
        return value
    by_key = {key: attr for attr, key in cls.attribute_map.items()}
    kwargs = {}
    for key, v in value.items():
        if key not in by_key:
            problems.add(f"{where}.{key}", f"no such field in {typename}")
            continue
        attr = by_key[key]
        kwargs[attr] = check(v, cls.openapi_types[attr], f"{where}.{key}", problems)
    if typename == "V1ResourceRequirements":
        for part in ("limits", "requests"):
            for name, q in (value.get(part) or {}).items():
                if not QUANTITY.match(str(q)):
                    problems.add(f"{where}.{part}.{name}", f"{q!r} is not a quantity")
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as e:
        problems.add(where, str(e))
        return value


def pod_rules(spec, where, problems):
    """What callbackd's pods keep: non-root, read-only root, no capability, seccomp, limits."""
    pod_sc = spec.get("securityContext") or {}
    if (pod_sc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        problems.add(where, "seccompProfile RuntimeDefault is missing")
    if spec.get("automountServiceAccountToken") is not False:
        problems.add(where, "automountServiceAccountToken must be false (callbackd has no use)")
    for i, c in enumerate(spec.get("containers") or []):
        at = f"{where}.containers[{i}]"
        sc = c.get("securityContext") or {}
        if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
            problems.add(at, "runAsNonRoot is not set")
        if not sc.get("readOnlyRootFilesystem"):
            problems.add(at, "readOnlyRootFilesystem is not set")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.add(at, "allowPrivilegeEscalation is not false")
        if (sc.get("capabilities") or {}).get("drop") != ["ALL"]:
            problems.add(at, "capabilities are not all dropped")
        res = c.get("resources") or {}
        if not (res.get("requests") and (res.get("limits") or {}).get("memory")):
            problems.add(at, "resources: requests and a memory limit are wanted")


def main(paths):
    problems = Problems()
    seen = []
    for path in paths:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        for n, doc in enumerate(docs):
            where = f"{path}#{n}"
            key = (doc.get("apiVersion"), doc.get("kind"))
            if key not in KINDS:
                problems.add(where, f"unexpected apiVersion/kind {key}")
                continue
            name = (doc.get("metadata") or {}).get("name")
            where = f"{path}:{doc['kind']}/{name}"
            check(doc, KINDS[key], where, problems)
            seen.append((doc["kind"], name))
            if doc["kind"] == "Deployment":
                pod = doc["spec"]["template"]["spec"]
                pod_rules(pod, where, problems)
                c = pod["containers"][0]
                if (c.get("readinessProbe") or {}).get("httpGet", {}).get("path") != "/readyz":
                    problems.add(where, "the readiness probe is not /readyz")
                if (c.get("livenessProbe") or {}).get("httpGet", {}).get("path") != "/healthz":
                    problems.add(where, "the liveness probe is not /healthz")
            if doc["kind"] == "Job":
                pod_rules(doc["spec"]["template"]["spec"], where, problems)
    for p in problems:
        print(p)
    if not problems:
        print("valid:", ", ".join(f"{k}/{n}" for k, n in seen))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
