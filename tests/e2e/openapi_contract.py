"""openapi.yaml as an oracle for the end-to-end tests.

Every answer `Service.call` receives and every command the `FakePBX` receives is checked here
against the document (harness.py calls `check_response` and `check_command`):

- the concrete path is matched to its templated path (`/v1/stations/2001` ->
  `/v1/stations/{number}`), the method to the operation;
- the status must be documented for that operation (exactly, as `4XX`, or `default`): a status
  the document does not list fails too. A method the path does not have must be 405 with the
  path's documented 405 answer; a path the document does not have must be 404 `not_found`;
- a JSON body (`application/json`, `application/problem+json`) must be of a documented media
  type and valid against that response's schema, `$ref`s resolved, as JSON Schema 2020-12;
- a 500 `internal_error` fails whatever the operation: the document lists it as the answer to
  an unexpected failure, which no test may provoke.

Two things are added to what the document says, to make the check a contract check:

- objects are closed: a property the schema does not describe is an error (the server must not
  send fields the document does not describe). Where the document leaves an object open on
  purpose (`additionalProperties`, `patternProperties`, an object with no `properties`), it
  stays open;
- `format: date-time` and `uuid` are checked (RFC 3339 time with an offset, canonical UUID).

OpenAPI 3.0 `nullable: true` (should the document ever use it) is turned into the 3.1 form
(`null` added to `type`, and to `enum` when there is one); OpenAPI-only keywords
(`discriminator`, `example`, `xml`, `externalDocs`) are not JSON Schema and are ignored.

A failure raises `ContractError` (an AssertionError) naming the operation, the status, the
schema location and the offending value, and is also recorded in `VIOLATIONS`, so that a
failure in a thread (a FakePBX handler, a test's worker thread) still fails the test (conftest
checks the list after each test). Validators are compiled once per process.
"""

import copy
import json
import re
import threading
from pathlib import Path

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[2]
DOC_PATH = REPO / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
JSON_TYPES = ("application/json", "application/problem+json")

VIOLATIONS = []
_violations_lock = threading.Lock()


class ContractError(AssertionError):
    pass


def _load_doc():
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(DOC_PATH, encoding="utf-8") as f:
        return yaml.load(f, Loader=loader)


# -- OpenAPI schema -> JSON Schema ------------------------------------------------------------

_SCHEMA_CHILD_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
_SCHEMA_CHILD_ONE = ("items", "additionalProperties", "unevaluatedProperties", "contains",
                     "propertyNames", "not", "if", "then", "else", "unevaluatedItems")
_SCHEMA_CHILD_LISTS = ("allOf", "oneOf", "anyOf", "prefixItems")


def _openapi30_to_31(node):
    """In place: `nullable: true` -> `null` in `type` (and `enum`); recursive."""
    if not isinstance(node, dict):
        return
    if node.pop("nullable", False) is True:
        t = node.get("type")
        if isinstance(t, str):
            node["type"] = [t, "null"]
        elif isinstance(t, list) and "null" not in t:
            node["type"] = t + ["null"]
        if isinstance(node.get("enum"), list) and None not in node["enum"]:
            node["enum"] = node["enum"] + [None]
    for k in _SCHEMA_CHILD_MAPS:
        for v in (node.get(k) or {}).values():
            _openapi30_to_31(v)
    for k in _SCHEMA_CHILD_ONE:
        _openapi30_to_31(node.get(k))
    for k in _SCHEMA_CHILD_LISTS:
        for v in node.get(k) or []:
            _openapi30_to_31(v)


def _resolve_local(doc, ref):
    if not ref.startswith("#/"):
        raise ContractError(f"openapi.yaml: only local $refs are supported, not {ref!r}")
    node = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _has_properties(doc, node, seen=()):
    """True when the schema (through $ref and compositions) describes named properties and
    leaves no part of the object open on purpose."""
    if not isinstance(node, dict):
        return False
    if "additionalProperties" in node or "patternProperties" in node \
            or "unevaluatedProperties" in node:
        return False
    found = "properties" in node
    ref = node.get("$ref")
    if ref and ref not in seen:
        target = _resolve_local(doc, ref)
        if isinstance(target, dict) and ("additionalProperties" in target
                                         or "patternProperties" in target):
            return False
        found = _has_properties(doc, target, seen + (ref,)) or found
    for k in ("allOf", "oneOf", "anyOf"):
        for sub in node.get(k) or []:
            found = _has_properties(doc, sub, seen) or found
    return found


def _close_objects(doc, node, instance_root):
    """In place: adds `unevaluatedProperties: false` to every schema that describes a JSON value
    of its own (a response root, a property's value, an array's items) and has named
    properties. Members of allOf/oneOf/anyOf are parts of a value, not values: they stay open,
    so the closing schema above them sees every property they evaluate."""
    if not isinstance(node, dict):
        return
    if instance_root and _has_properties(doc, node):
        node["unevaluatedProperties"] = False
    for k in ("properties", "patternProperties"):
        for v in (node.get(k) or {}).values():
            _close_objects(doc, v, True)
    for k in ("items", "additionalProperties", "contains"):
        _close_objects(doc, node.get(k), True)
    for v in node.get("prefixItems") or []:
        _close_objects(doc, v, True)
    for k in ("allOf", "oneOf", "anyOf"):
        for v in node.get(k) or []:
            _close_objects(doc, v, False)
    for k in ("if", "then", "else", "not"):
        _close_objects(doc, node.get(k), False)


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _format_checker():
    fc = jsonschema.FormatChecker(())

    @fc.checks("date-time")
    def _date_time(value):
        if not isinstance(value, str):
            return True
        if not _RFC3339.match(value):
            return False
        mo, d, h, mi, s = (int(value[5:7]), int(value[8:10]), int(value[11:13]),
                           int(value[14:16]), int(value[17:19]))
        return 1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and s <= 60

    @fc.checks("uuid")
    def _uuid(value):
        return not isinstance(value, str) or bool(_UUID.match(value.lower()))

    return fc


class Contract:
    """The document, its operations, and validators compiled on first use."""

    def __init__(self, doc=None):
        self.raw = doc if doc is not None else _load_doc()
        self.doc = copy.deepcopy(self.raw)
        comps = self.doc.setdefault("components", {})
        for s in (comps.get("schemas") or {}).values():
            _openapi30_to_31(s)
        self._walk_media(lambda schema: _openapi30_to_31(schema))
        # Close objects at the places a value is described: response and webhook schemas, and
        # the properties/items inside every component (component roots are closed where used).
        for s in (comps.get("schemas") or {}).values():
            _close_objects(self.doc, s, False)
        self._walk_media(lambda schema: _close_objects(self.doc, schema, True))
        self.resolver = jsonschema.RefResolver("urn:callbackd:openapi", self.doc)
        self.format_checker = _format_checker()
        self._validators = {}
        self._lock = threading.Lock()
        self.paths = []  # (regex, template, n_params), most literal first
        for template in self.doc.get("paths") or {}:
            rx = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
            self.paths.append((re.compile(rx), template, template.count("{")))
        self.paths.sort(key=lambda p: p[2])

    def _walk_media(self, fn):
        """Calls fn on every media-type schema of every response and request body, in paths,
        webhooks and components (after resolving response $refs where they are inline)."""
        def media_of(obj):
            for media in ((obj or {}).get("content") or {}).values():
                if isinstance(media, dict) and isinstance(media.get("schema"), dict):
                    fn(media["schema"])

        def ops(items):
            for item in (items or {}).values():
                for m in METHODS:
                    op = (item or {}).get(m)
                    if not isinstance(op, dict):
                        continue
                    for resp in (op.get("responses") or {}).values():
                        if isinstance(resp, dict) and "$ref" not in resp:
                            media_of(resp)
                    rb = op.get("requestBody")
                    if isinstance(rb, dict) and "$ref" not in rb:
                        media_of(rb)
        ops(self.doc.get("paths"))
        ops(self.doc.get("webhooks"))
        comps = self.doc.get("components") or {}
        for resp in (comps.get("responses") or {}).values():
            media_of(resp)
        for rb in (comps.get("requestBodies") or {}).values():
            media_of(rb)

    # -- lookup ------------------------------------------------------------------------------

    def operations(self):
        """Every (METHOD, templated path) of `paths`."""
        out = set()
        for template, item in (self.raw.get("paths") or {}).items():
            for m in METHODS:
                if m in (item or {}):
                    out.add((m.upper(), template))
        return out

    def match_path(self, path):
        path = path.split("?", 1)[0].split("#", 1)[0]
        for rx, template, _ in self.paths:
            if rx.match(path):
                return template
        return None

    def _deref(self, obj, where):
        while isinstance(obj, dict) and "$ref" in obj:
            where = obj["$ref"]
            obj = _resolve_local(self.doc, obj["$ref"])
        return obj, where

    def _response_for(self, op, status, where):
        """The response object documented for `status` (exact, `NXX`, `default`) and its
        location, or (None, None)."""
        responses = op.get("responses") or {}
        for key in (str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default"):
            if key in responses:
                return self._deref(responses[key], f"{where}/responses/{key}")
        return None, None

    def _validator(self, pointer, schema):
        with self._lock:
            v = self._validators.get(pointer)
            if v is None:
                v = jsonschema.Draft202012Validator(schema, resolver=self.resolver,
                                                    format_checker=self.format_checker)
                self._validators[pointer] = v
            return v

    # -- checks ------------------------------------------------------------------------------

    def check_response(self, method, path, status, content_type, doc, raw_len):
        """Checks one answer; raises ContractError (and records it) on a mismatch."""
        method = method.upper()
        template = self.match_path(path)
        what = f"{method} {path}"
        if status == 500:
            # Documented (`internal_error`), but it is the server failing: no test expects one.
            self._fail(f"{what} -> 500: an unexpected failure of the server (internal_error) "
                       f"is never a right answer; body: {_short(doc)}")
        if template is None:
            if status != 404:
                self._fail(f"{what} -> {status}: the path is not in openapi.yaml, so the "
                           f"answer must be 404 not_found")
            resp, loc = self._deref({"$ref": "#/components/responses/NotFound"}, "")
            return self._check_body(f"{what} (no such path)", status, resp, loc, content_type,
                                    doc, raw_len)
        item = self.doc["paths"][template]
        esc = template.replace("~", "~0").replace("/", "~1")
        body_expected = True
        lookup = method.lower()
        if method == "HEAD" and "head" not in item and "get" in item:
            lookup, body_expected = "get", False  # HEAD is served by GET, without a body
        op = item.get(lookup)
        if not isinstance(op, dict):
            if status != 405:
                self._fail(f"{what} -> {status}: {template} has no {method} operation in "
                           f"openapi.yaml, so the answer must be 405 method_not_allowed")
            for m in METHODS:  # the path's documented 405 (each operation lists it)
                other = item.get(m)
                if isinstance(other, dict):
                    resp, loc = self._response_for(other, 405, f"#/paths/{esc}/{m}")
                    if resp is not None:
                        return self._check_body(f"{what} (405 of {template})", status, resp,
                                                loc, content_type, doc, raw_len)
            self._fail(f"{what} -> 405: no operation of {template} documents a 405 answer")
        name = f"{what} ({op.get('operationId') or lookup + ' ' + template})"
        resp, loc = self._response_for(op, status, f"#/paths/{esc}/{lookup}")
        if resp is None:
            self._fail(f"{name} -> {status}: status {status} is not documented for this "
                       f"operation (documented: {', '.join(sorted(op.get('responses') or {}))}); "
                       f"body: {_short(doc)}")
        if body_expected:
            self._check_body(name, status, resp, loc, content_type, doc, raw_len)

    def _check_body(self, name, status, resp, loc, content_type, doc, raw_len):
        ctype = (content_type or "").split(";", 1)[0].strip().lower()
        content = resp.get("content") or {}
        if not raw_len:
            if content:  # a documented body that did not come
                self._fail(f"{name} -> {status}: empty body, openapi.yaml ({loc}) documents "
                           f"{', '.join(content)}")
            return
        if not content:
            self._fail(f"{name} -> {status}: a body ({ctype or 'no Content-Type'}: "
                       f"{_short(doc)}) where openapi.yaml ({loc}) documents none")
        if ctype not in {k.lower() for k in content}:
            self._fail(f"{name} -> {status}: Content-Type {ctype!r} is not documented "
                       f"({loc} has {', '.join(content)})")
        if ctype not in JSON_TYPES:
            return
        media = next(v for k, v in content.items() if k.lower() == ctype)
        schema = (media or {}).get("schema")
        if schema is None:
            return
        if isinstance(doc, str):
            self._fail(f"{name} -> {status}: {ctype} body is not JSON: {_short(doc)}")
        pointer = f"{loc}/content/{ctype.replace('/', '~1')}/schema"
        self._validate(name, status, pointer, schema, doc)

    def _validate(self, name, status, pointer, schema, doc):
        v = self._validator(pointer, schema)
        errors = list(v.iter_errors(doc))
        if not errors:
            return
        # A failed oneOf/anyOf evaluates no property, so the closing unevaluatedProperties at
        # the same place reports every property: noise next to the real error.
        # Likewise a property whose value is invalid counts as not evaluated: keep only the
        # names that are really not described.
        composed = {tuple(e.absolute_path) for e in errors if e.validator in ("oneOf", "anyOf")}
        failing = {tuple(e.absolute_path) for e in errors}
        kept = []
        for e in errors:
            if e.validator == "unevaluatedProperties":
                at = tuple(e.absolute_path)
                if at in composed:
                    continue
                names = [k for k in (e.instance if isinstance(e.instance, dict) else {})
                         if k not in _evaluated_names(e)]
                names = [k for k in names
                         if not any(p[:len(at) + 1] == at + (k,) for p in failing)]
                if not names:
                    continue
                e.message = (f"{', '.join(repr(k) for k in names)} "
                             f"{'is' if len(names) == 1 else 'are'} not described by the schema")
            kept.append(e)
        errors = kept
        lines = []
        for e in sorted(errors, key=lambda e: (len(e.path), list(map(str, e.path)))):
            for leaf in _leaves(e):
                at = "$" + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]"
                                   for p in leaf.absolute_path)
                spath = "/".join(str(p) for p in leaf.absolute_schema_path)
                lines.append(f"  at {at}: {leaf.message}\n    schema: {pointer}/{spath}\n"
                             f"    value: {_short(leaf.instance)}")
        lines = list(dict.fromkeys(lines))
        more = f"\n  ... and {len(lines) - 6} more" if len(lines) > 6 else ""
        self._fail(f"{name} -> {status}: the body does not match openapi.yaml:\n"
                   + "\n".join(lines[:6]) + more + f"\n  body: {_short(doc, 600)}")

    def check_command(self, body):
        """Checks one command body the PBX received against the `pbxCommand` webhook's schema."""
        hooks = self.doc.get("webhooks") or {}
        for hook_name, item in hooks.items():
            op = (item or {}).get("post")
            if not isinstance(op, dict) or op.get("operationId") != "pbxCommand":
                continue
            rb, loc = self._deref(op.get("requestBody") or {},
                                  f"#/webhooks/{hook_name}/post/requestBody")
            schema = ((rb.get("content") or {}).get("application/json") or {}).get("schema")
            if schema is None:
                return
            kind = body.get("type") if isinstance(body, dict) else None
            self._validate(f"PBX command {kind or '?'} (webhook {hook_name})", "POST",
                           f"{loc}/content/application~1json/schema", schema, body)
            return
        self._fail("openapi.yaml has no pbxCommand webhook to check commands against")

    def check_stream_event(self, event, data):
        """Checks one Server-Sent Event of GET /v1/stream: its `event:` must be one the 200
        answer's `x-events` documents, its `data:` valid against that event's schema."""
        op = ((self.doc.get("paths") or {}).get("/v1/stream") or {}).get("get") or {}
        media = ((((op.get("responses") or {}).get("200") or {}).get("content") or {})
                 .get("text/event-stream") or {})
        events = media.get("x-events") or {}
        if event not in events:
            self._fail(f"GET /v1/stream: event {event!r} is not documented "
                       f"(x-events has {', '.join(events)})")
        loc = "#/paths/~1v1~1stream/get/responses/200/content/text~1event-stream/x-events"
        self._validate(f"GET /v1/stream event {event}", 200, f"{loc}/{event}", events[event],
                       data)

    def _fail(self, msg):
        msg = "openapi contract: " + msg
        with _violations_lock:
            VIOLATIONS.append(msg)
        raise ContractError(msg)


def _evaluated_names(err):
    """The property names the message of an unevaluatedProperties error does not list."""
    m = re.search(r"\((.*) (?:was|were) unexpected\)", err.message)
    listed = set(re.findall(r"'((?:[^'\\]|\\.)*)'", m.group(1))) if m else set()
    return {k for k in (err.instance if isinstance(err.instance, dict) else {})
            if k not in listed}


def _leaves(err):
    """The errors to show for `err`: for a oneOf/anyOf, those of the branch the value meant
    (the one its `discriminator` maps it to, else the one with the fewest errors)."""
    if err.validator not in ("oneOf", "anyOf") or not err.context:
        return [err]
    branches = {}
    for sub in err.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    chosen = None
    disc = err.schema.get("discriminator") if isinstance(err.schema, dict) else None
    if isinstance(disc, dict) and isinstance(err.instance, dict):
        value = err.instance.get(disc.get("propertyName"))
        target = (disc.get("mapping") or {}).get(value)
        if target is None:
            err.message = (f"{disc.get('propertyName')} {value!r} is not one of "
                           f"{sorted(disc.get('mapping') or {})}")
            return [err]
        for i, branch in enumerate(err.validator_value):
            if isinstance(branch, dict) and branch.get("$ref") == target:
                chosen = branches.get(i, [])
                if not chosen:  # that branch passed: the oneOf failed on another that passed too
                    return [err]
    if chosen is None:
        chosen = min(branches.values(), key=len)
    out = []
    for sub in chosen:
        out.extend(_leaves(sub))
    return out


def _short(value, limit=200):
    try:
        s = json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        s = repr(value)
    return s if len(s) <= limit else s[:limit] + "..."


_contract = None
_contract_lock = threading.Lock()


def contract():
    """The process's Contract (the document is read and converted once)."""
    global _contract
    with _contract_lock:
        if _contract is None:
            _contract = Contract()
        return _contract


def check_response(method, path, status, content_type, doc, raw_len):
    contract().check_response(method, path, status, content_type, doc, raw_len)


def check_command(body):
    contract().check_command(body)


def check_stream_event(event, data):
    contract().check_stream_event(event, data)


def take_violations():
    """The violations recorded since the last call (and forgets them)."""
    with _violations_lock:
        out = list(VIOLATIONS)
        VIOLATIONS.clear()
    return out
